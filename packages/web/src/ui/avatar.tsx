/** Initials on a colour derived from the id, so a person keeps their colour everywhere. */
export function initials(name: string): string {
  const words = name.trim().split(/[\s._-]+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]!, words[words.length - 1]!].map((w) => [...w][0]) : [...(words[0] ?? '?')].slice(0, 2);
  return letters.join('').toUpperCase() || '?';
}

function hue(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 8;
}

export function Avatar({ id, name, size = 'm' }: { id: string; name: string; size?: 'xs' | 's' | 'm' | 'l' }) {
  const cls = size === 'm' ? '' : ` avatar-${size}`;
  return (
    <span className={`avatar hue-${hue(id)}${cls}`} aria-hidden="true">
      {initials(name)}
    </span>
  );
}

/**
 * A picture kept as an attachment (a group's avatar), downloaded through the SDK into a
 * blob: URL; the initials show until it is there, or when it cannot be had.
 */
export function PictureAvatar({ url, id, name, size = 'm' }: { url: string | null; id: string; name: string; size?: 'xs' | 's' | 'm' | 'l' }) {
  if (!url) return <Avatar id={id} name={name} size={size} />;
  const cls = size === 'm' ? '' : ` avatar-${size}`;
  return <img className={`avatar avatar-img${cls}`} src={url} alt="" />;
}
