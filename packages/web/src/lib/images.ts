/** What the canvas made of an image: a small copy, and the original's size. */
export interface Thumbnail {
  blob: Blob;
  width: number;
  height: number;
  sourceWidth: number;
  sourceHeight: number;
}

/**
 * A thumbnail made on this device with a canvas: at most `max` pixels on its long side, JPEG
 * (on white, since JPEG has no transparency). Null when the browser cannot decode the file.
 * The server never sees the picture's content, so the client makes the preview.
 */
export async function makeThumbnail(file: Blob, max = 320): Promise<Thumbnail | null> {
  const bitmap = await createImageBitmap(file).catch(() => null);
  if (!bitmap) return null;
  try {
    const scale = Math.min(1, max / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d');
    if (!ctx) return null;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(bitmap, 0, 0, width, height);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.82));
    return blob ? { blob, width, height, sourceWidth: bitmap.width, sourceHeight: bitmap.height } : null;
  } finally {
    bitmap.close();
  }
}
