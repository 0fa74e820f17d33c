import type { ParleyClient } from '@parley/sdk';
import { servedInline, type Attachment } from '@parley/protocol';

/**
 * Attachments through the SDK. An <img> cannot send the bearer token, so a download becomes
 * a blob: URL, which the CSP allows for images and media. Downloads are shared per id.
 */
export function uploadAttachment(client: ParleyClient, file: File): Promise<Attachment> {
  const filename = safeFilename(file.name);
  return client.attachments.upload(file, { contentType: file.type || 'application/octet-stream', ...(filename ? { filename } : {}) });
}

/** The server refuses control characters and slashes in a filename. */
export function safeFilename(name: string): string {
  return [...name].map((ch) => (ch.charCodeAt(0) < 0x20 || ch === '\u007f' || ch === '/' || ch === '\\' ? '_' : ch)).join('').trim().slice(0, 255);
}

/** Save a downloaded file under a name, as a click on a download link would. */
export function saveAs(url: string, filename: string): void {
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
}

/** "0:07", "1:32". */
export function formatClock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export interface Downloaded {
  url: string;
  contentType: string;
  size: number;
  filename: string;
  /** An image the app previews in place (never SVG: it can carry script). */
  image: boolean;
}

const EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp', 'application/pdf': 'pdf', 'text/plain': 'txt', 'application/zip': 'zip' };

const cache = new Map<string, Promise<Downloaded>>();

export function downloadAttachment(client: ParleyClient, id: string): Promise<Downloaded> {
  let p = cache.get(id);
  if (!p) {
    p = client.attachments.download(id).then(({ bytes, contentType }) => {
      const essence = contentType.split(';')[0]!.trim().toLowerCase();
      const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: essence });
      const ext = EXT[essence];
      return {
        url: URL.createObjectURL(blob),
        contentType: essence,
        size: blob.size,
        filename: `parley-${id.slice(-8)}${ext ? `.${ext}` : ''}`,
        image: servedInline(essence) && essence.startsWith('image/'),
      };
    });
    p.catch(() => cache.delete(id));
    cache.set(id, p);
  }
  return p;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
