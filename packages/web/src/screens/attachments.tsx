import { useEffect, useState } from 'react';
import { useApp } from '../lib/app-context.ts';
import { downloadAttachment, formatBytes, type Downloaded } from '../lib/attachments.ts';
import { IconDownload, IconFile } from '../ui/icons.tsx';

export function Attachments({ ids }: { conversationId: string; ids: string[] }) {
  return (
    <>
      {ids.map((id) => (
        <AttachmentView key={id} id={id} />
      ))}
    </>
  );
}

function AttachmentView({ id }: { id: string }) {
  const { client } = useApp();
  const [file, setFile] = useState<Downloaded | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    downloadAttachment(client, id).then(
      (f) => live && setFile(f),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [client, id]);
  if (failed) return <span className="attachment-file">Attachment unavailable</span>;
  if (!file) return <span className="attachment-file">Loading attachment…</span>;
  if (file.image) {
    return (
      <a href={file.url} download={file.filename} className="attachment-link" title="Download">
        <img className="attachment-img" src={file.url} alt={`Image (${formatBytes(file.size)}), select to download`} />
      </a>
    );
  }
  return (
    <a className="attachment-file" href={file.url} download={file.filename}>
      <IconFile />
      <span>
        {file.filename} <small>({formatBytes(file.size)})</small>
      </span>
      <IconDownload />
    </a>
  );
}
