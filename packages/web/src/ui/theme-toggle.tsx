import { useTheme, type ThemeChoice } from '../lib/theme.ts';
import { IconMonitor, IconMoon, IconSun } from './icons.tsx';

const NEXT: Record<ThemeChoice, ThemeChoice> = { system: 'light', light: 'dark', dark: 'system' };
const LABEL: Record<ThemeChoice, string> = { system: 'Theme: system', light: 'Theme: light', dark: 'Theme: dark' };

/** Cycles system → light → dark; the label says the current choice for screen readers. */
export function ThemeToggle() {
  const [choice, setChoice] = useTheme();
  const Icon = choice === 'light' ? IconSun : choice === 'dark' ? IconMoon : IconMonitor;
  return (
    <button type="button" className="icon-btn" onClick={() => setChoice(NEXT[choice])} aria-label={`${LABEL[choice]} (switch to ${NEXT[choice]})`} title={LABEL[choice]}>
      <Icon />
    </button>
  );
}
