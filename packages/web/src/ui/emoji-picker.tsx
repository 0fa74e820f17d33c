import { useEffect, useRef, type KeyboardEvent } from 'react';

export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

export const EMOJI = [
  '👍', '❤️', '😂', '😮', '😢', '🙏', '🎉', '🔥',
  '😀', '😊', '😍', '🤔', '😎', '🥳', '😅', '🙌',
  '👏', '💯', '✅', '👀', '🤝', '💪', '🙂', '😉',
  '😴', '🤯', '😬', '🙈', '✨', '🌟', '☕', '🍕',
];

/**
 * A grid of emoji buttons. Arrow keys move between them, Escape closes; focus starts on the
 * first so the picker works from the keyboard alone.
 */
export function EmojiPicker({ onPick, onClose, label, className, quick }: { onPick: (emoji: string) => void; onClose: () => void; label: string; className?: string; quick?: string[] }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.querySelector('button')?.focus();
    const outside = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) onClose();
    };
    document.addEventListener('mousedown', outside);
    return () => document.removeEventListener('mousedown', outside);
  }, [onClose]);
  const move = (e: KeyboardEvent) => {
    const buttons = [...(ref.current?.querySelectorAll('.emoji-grid button') ?? [])] as HTMLButtonElement[];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 }[e.key];
    if (e.key === 'Escape') {
      e.stopPropagation();
      onClose();
    } else if (step !== undefined && at >= 0) {
      e.preventDefault();
      buttons[Math.min(buttons.length - 1, Math.max(0, at + step))]?.focus();
    }
  };
  return (
    <div ref={ref} className={`popover ${className ?? ''}`} role="dialog" aria-label={label} onKeyDown={move}>
      {quick && (
        <div className="quick-reactions">
          {quick.map((e) => (
            <button key={e} type="button" onClick={() => onPick(e)} aria-label={`React with ${e}`}>
              {e}
            </button>
          ))}
        </div>
      )}
      <div className="emoji-grid">
        {EMOJI.map((e) => (
          <button key={e} type="button" onClick={() => onPick(e)} aria-label={`Emoji ${e}`}>
            {e}
          </button>
        ))}
      </div>
    </div>
  );
}
