import { useEffect, useRef, type KeyboardEvent } from 'react';

const COLUMNS = 8;

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
  const close = useRef(onClose);
  close.current = onClose;
  // Once, on open: callers pass a new onClose on every render, and a message arriving must
  // not throw the keyboard user's focus back to the first emoji. Focus returns where it was.
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const node = ref.current;
    node?.querySelector('button')?.focus();
    const outside = (e: MouseEvent) => {
      if (node && !node.contains(e.target as Node)) close.current();
    };
    document.addEventListener('mousedown', outside);
    return () => {
      document.removeEventListener('mousedown', outside);
      const lost = !document.activeElement || document.activeElement === document.body || !!node?.contains(document.activeElement);
      if (lost && before?.isConnected) before.focus();
    };
  }, []);
  // Arrows move through the quick row and the grid (8 a row); Down from the quick row enters the grid.
  const move = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      onClose();
      return;
    }
    const quickRow = [...(ref.current?.querySelectorAll('.quick-reactions button') ?? [])] as HTMLButtonElement[];
    const grid = [...(ref.current?.querySelectorAll('.emoji-grid button') ?? [])] as HTMLButtonElement[];
    const active = document.activeElement as HTMLButtonElement;
    const q = quickRow.indexOf(active);
    const g = grid.indexOf(active);
    if (q < 0 && g < 0) return;
    let next: HTMLButtonElement | undefined;
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      const step = e.key === 'ArrowRight' ? 1 : -1;
      next = q >= 0 ? quickRow[q + step] : grid[g + step];
    } else if (e.key === 'ArrowDown') {
      next = q >= 0 ? grid[Math.min(q, COLUMNS - 1)] : grid[g + COLUMNS];
    } else if (e.key === 'ArrowUp') {
      next = g >= 0 ? (g < COLUMNS ? quickRow[Math.min(g, quickRow.length - 1)] : grid[g - COLUMNS]) : undefined;
    } else {
      return;
    }
    e.preventDefault();
    next?.focus();
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
