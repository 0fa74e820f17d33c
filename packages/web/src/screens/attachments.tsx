import { useEffect, useState } from 'react';
import type { AttachmentInfo } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { downloadAttachment, formatBytes, formatClock, saveAs, type Downloaded } from '../lib/attachments.ts';
import { describeError } from '../lib/errors.ts';
import { IconDownload, IconFile, IconMic } from '../ui/icons.tsx';

/**
 * A message's files. A message that describes them (`attachments`: kind, name, size, a
 * thumbnail, a voice note's length) shows each as what it is; an older one that only lists
 * ids shows each by downloading it.
 */
export function Attachments({ ids, infos }: { ids: string[]; infos: AttachmentInfo[] }) {
  if (infos.length) {
    return (
      <>
        {infos.map((info) => (
          <Described key={info.id} info={info} />
        ))}
      </>
    );
  }
  return (
    <>
      {ids.map((id) => (
        <AttachmentView key={id} id={id} />
      ))}
    </>
  );
}

function useDownload(id: string | null): { file: Downloaded | null; failed: boolean } {
  const { client } = useApp();
  const [file, setFile] = useState<Downloaded | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (!id) return;
    let live = true;
    downloadAttachment(client, id).then(
      (f) => live && setFile(f),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [client, id]);
  return { file, failed };
}

function Described({ info }: { info: AttachmentInfo }) {
  switch (info.kind) {
    case 'image':
      return info.thumbnail ? <Thumbnailed info={info} /> : <AttachmentView id={info.id} name={info.name} />;
    case 'voice':
      return <VoiceNote info={info} />;
    case 'video':
    case 'file':
      return <FileButton info={info} />;
    default: {
      const unknownKind: never = info.kind;
      void unknownKind;
      return <FileButton info={info} />;
    }
  }
}

/** The original is fetched only when asked for: the thumbnail made by the sender shows meanwhile. */
function useSaveOriginal(info: AttachmentInfo): { save: () => void; busy: boolean } {
  const { client, toast } = useApp();
  const [busy, setBusy] = useState(false);
  const save = () => {
    setBusy(true);
    downloadAttachment(client, info.id).then(
      (f) => (setBusy(false), saveAs(f.url, info.name || f.filename)),
      (err) => (setBusy(false), toast(describeError(err))),
    );
  };
  return { save, busy };
}

function Thumbnailed({ info }: { info: AttachmentInfo }) {
  const { file, failed } = useDownload(info.thumbnail!.id);
  const { save, busy } = useSaveOriginal(info);
  const label = `Image${info.name ? ` ${info.name}` : ''} (${formatBytes(info.size)}), select to download`;
  if (failed) return <span className="attachment-file">Image unavailable</span>;
  return (
    <button type="button" className="attachment-link" onClick={save} disabled={busy} title="Download">
      {file ? (
        <img className="attachment-img" src={file.url} alt={label} width={info.thumbnail!.width} height={info.thumbnail!.height} data-testid="thumbnail" />
      ) : (
        <span className="attachment-file">Loading image…</span>
      )}
    </button>
  );
}

function VoiceNote({ info }: { info: AttachmentInfo }) {
  const { file, failed } = useDownload(info.id);
  const length = info.durationMs !== undefined ? formatClock(info.durationMs) : '';
  if (failed) return <span className="attachment-file">Voice note unavailable</span>;
  return (
    <span className="voice-note">
      <IconMic aria-hidden="true" />
      {file ? <audio controls preload="metadata" src={file.url} aria-label={`Voice note${length ? `, ${length}` : ''}`} /> : <span>Loading voice note…</span>}
      {length && <span className="voice-length">{length}</span>}
    </span>
  );
}

function FileButton({ info }: { info: AttachmentInfo }) {
  const { save, busy } = useSaveOriginal(info);
  return (
    <button type="button" className="attachment-file" onClick={save} disabled={busy}>
      <IconFile />
      <span>
        {info.name || 'File'} <small>({formatBytes(info.size)})</small>
      </span>
      <IconDownload />
    </button>
  );
}

function AttachmentView({ id, name }: { id: string; name?: string }) {
  const { file, failed } = useDownload(id);
  if (failed) return <span className="attachment-file">Attachment unavailable</span>;
  if (!file) return <span className="attachment-file">Loading attachment…</span>;
  if (file.image) {
    return (
      <a href={file.url} download={name || file.filename} className="attachment-link" title="Download">
        <img className="attachment-img" src={file.url} alt={`Image (${formatBytes(file.size)}), select to download`} />
      </a>
    );
  }
  return (
    <a className="attachment-file" href={file.url} download={name || file.filename}>
      <IconFile />
      <span>
        {name || file.filename} <small>({formatBytes(file.size)})</small>
      </span>
      <IconDownload />
    </a>
  );
}
