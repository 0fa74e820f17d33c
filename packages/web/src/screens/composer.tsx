import { useEffect, useLayoutEffect, useRef, useState, type ChangeEvent, type KeyboardEvent } from 'react';
import { LIMITS } from '@parley/protocol';
import type { Conversation, MessageView, PlainContent } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { formatClock, safeFilename } from '../lib/attachments.ts';
import { describeError } from '../lib/errors.ts';
import { makeThumbnail } from '../lib/images.ts';
import { mentionRanges, type Chosen } from '../text/mentions.ts';
import { EmojiPicker } from '../ui/emoji-picker.tsx';
import { IconClose, IconEdit, IconMic, IconPaperclip, IconReply, IconSend, IconSmile } from '../ui/icons.tsx';

const TYPING_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;

export function Composer({
  conversation,
  replyTo,
  editing,
  onClearContext,
  onEditLast,
}: {
  conversation: Conversation;
  replyTo: MessageView | null;
  editing: MessageView | null;
  onClearContext(): void;
  onEditLast(): void;
}) {
  const { client, me, users, toast } = useApp();
  const [text, setText] = useState('');
  const [chosen, setChosen] = useState<Chosen[]>([]);
  const [files, setFiles] = useState<{ key: string; file: File }[]>([]);
  const [uploading, setUploading] = useState(0);
  const voice = useVoiceRecorder();
  const [emoji, setEmoji] = useState(false);
  const [suggest, setSuggest] = useState<{ query: string; at: number; index: number } | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  /**
   * Where the caret goes once the text set with it is on the page: set in the same task as
   * the keystroke that picked a mention, so the next keystroke lands after the mention (a
   * requestAnimationFrame could come after it, or not at all in a hidden tab, and moved the
   * caret back into what had been typed since).
   */
  const caretAfterRender = useRef<number | null>(null);
  useLayoutEffect(() => {
    const at = caretAfterRender.current;
    if (at === null) return;
    caretAfterRender.current = null;
    const el = area.current;
    if (!el) return;
    el.focus();
    el.selectionStart = el.selectionEnd = at;
  });
  const fileInput = useRef<HTMLInputElement>(null);
  const typingSentAt = useRef(0);
  const idleTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const cid = conversation.id;

  useEffect(() => {
    if (editing) setText(editing.text ?? '');
    area.current?.focus();
  }, [editing, replyTo]);

  useEffect(
    () => () => {
      clearTimeout(idleTimer.current);
      if (typingSentAt.current) client.typing(cid, false);
    },
    [client, cid],
  );

  useEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
  }, [text]);

  const stopTyping = () => {
    clearTimeout(idleTimer.current);
    if (typingSentAt.current) client.typing(cid, false);
    typingSentAt.current = 0;
  };

  const typed = (value: string) => {
    if (!value.trim()) return stopTyping();
    const now = Date.now();
    if (now - typingSentAt.current > TYPING_EVERY_MS) {
      client.typing(cid, true);
      typingSentAt.current = now;
    }
    clearTimeout(idleTimer.current);
    idleTimer.current = setTimeout(stopTyping, TYPING_IDLE_MS);
  };

  const members = conversation.members.filter((m) => m.state === 'active' && m.userId !== me.id);
  const candidates = suggest
    ? members
        .map((m) => ({ userId: m.userId, name: users.name(m.userId), username: users.get(m.userId)?.username ?? '' }))
        .filter((c) => c.name.toLowerCase().startsWith(suggest.query.toLowerCase()) || c.username.startsWith(suggest.query.toLowerCase()))
        .slice(0, 6)
    : [];

  const onChange = (e: ChangeEvent<HTMLTextAreaElement>) => {
    const value = e.target.value;
    setText(value);
    typed(value);
    const caret = e.target.selectionStart ?? value.length;
    const m = /(^|\s)@([\p{L}\p{N}_.]{0,32})$/u.exec(value.slice(0, caret));
    setSuggest(m && conversation.type === 'group' ? { query: m[2]!, at: caret - m[2]!.length - 1, index: 0 } : null);
  };

  const pickMention = (c: { userId: string; name: string }) => {
    if (!suggest) return;
    const label = `@${c.name}`;
    const caret = suggest.at + 1 + suggest.query.length;
    const next = `${text.slice(0, suggest.at)}${label} ${text.slice(caret)}`;
    setText(next);
    setChosen((prev) => [...prev.filter((p) => p.label !== label), { userId: c.userId, label }]);
    setSuggest(null);
    caretAfterRender.current = suggest.at + label.length + 1;
  };

  const send = async () => {
    const body = text.trim();
    if (!body && !files.length) return;
    if (uploading) return;
    stopTyping();
    const mentions = mentionRanges(body, chosen);
    try {
      if (editing?.id) {
        if (body && body !== editing.text) await client.edit(cid, editing.id, body);
      } else if (files.length) {
        // One message per file, the text as the first one's caption. Images go with a
        // thumbnail made here with a canvas; the upload happens now, then the send is optimistic.
        setUploading((n) => n + 1);
        try {
          for (const [i, { key, file }] of files.entries()) {
            const thumb = file.type.startsWith('image/') && file.type !== 'image/svg+xml' ? await makeThumbnail(file) : null;
            const name = safeFilename(file.name);
            await client.sendFile(cid, file, {
              contentType: file.type || 'application/octet-stream',
              ...(name ? { filename: name } : {}),
              caption: i === 0 ? body : '',
              ...(thumb ? { thumbnail: { data: thumb.blob, contentType: 'image/jpeg', width: thumb.width, height: thumb.height }, width: thumb.sourceWidth, height: thumb.sourceHeight } : {}),
              ...(i === 0 && replyTo?.id ? { replyTo: replyTo.id } : {}),
            });
            // Sent: if a later file fails, a second press must not send this one (or the caption) again.
            setFiles((prev) => prev.filter((f) => f.key !== key));
            if (i === 0) {
              setText('');
              setChosen([]);
              onClearContext();
            }
          }
        } finally {
          setUploading((n) => n - 1);
        }
      } else {
        const content: PlainContent = { type: 'text', text: body, ...(mentions.length ? { mentions } : {}) };
        if (replyTo?.id) content.replyPreview = { messageId: replyTo.id, senderId: replyTo.senderId, text: (replyTo.text ?? '').slice(0, 200) };
        await client.send(cid, content, replyTo?.id ? { refs: { replyTo: replyTo.id } } : {});
      }
      setText('');
      setChosen([]);
      setFiles([]);
      onClearContext();
    } catch (err) {
      toast(describeError(err));
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (suggest && candidates.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const step = e.key === 'ArrowDown' ? 1 : -1;
        setSuggest({ ...suggest, index: (suggest.index + step + candidates.length) % candidates.length });
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        pickMention(candidates[suggest.index] ?? candidates[0]!);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        setSuggest(null);
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    } else if (e.key === 'Escape' && (replyTo || editing)) {
      e.preventDefault();
      if (editing) setText('');
      onClearContext();
    } else if (e.key === 'ArrowUp' && !text && !editing) {
      onEditLast();
    }
  };

  const attach = (list: FileList | null) => {
    if (!list?.length) return;
    const picked = [...list].slice(0, Math.max(0, LIMITS.attachmentsPerMessage - files.length));
    setFiles((prev) => [...prev, ...picked.map((file) => ({ key: `${file.name}-${file.size}-${Math.random()}`, file }))]);
    if (fileInput.current) fileInput.current.value = '';
  };

  const sendVoice = async () => {
    const note = await voice.stop();
    if (!note) return;
    try {
      await client.sendVoice(cid, note.blob, { durationMs: note.durationMs, contentType: note.blob.type || 'audio/webm', ...(replyTo?.id ? { replyTo: replyTo.id } : {}) });
      onClearContext();
    } catch (err) {
      toast(describeError(err));
    }
  };

  const insertEmoji = (e: string) => {
    const el = area.current;
    const at = el?.selectionStart ?? text.length;
    const next = text.slice(0, at) + e + text.slice(el?.selectionEnd ?? at);
    setText(next);
    setEmoji(false);
    requestAnimationFrame(() => {
      if (!el) return;
      el.focus();
      el.selectionStart = el.selectionEnd = at + e.length;
    });
  };

  const context = editing ?? replyTo;
  return (
    <div className="composer composer-wrap">
      {context && (
        <div className="composer-context">
          {editing ? <IconEdit width={18} height={18} aria-hidden="true" /> : <IconReply width={18} height={18} aria-hidden="true" />}
          <div>
            <strong>{editing ? 'Editing your message' : `Replying to ${replyTo!.senderId === me.id ? 'yourself' : users.name(replyTo!.senderId)}`}</strong>
            <div>{context.text}</div>
          </div>
          <button
            type="button"
            className="icon-btn"
            aria-label={editing ? 'Cancel editing' : 'Cancel reply'}
            onClick={() => {
              if (editing) setText('');
              onClearContext();
            }}
          >
            <IconClose />
          </button>
        </div>
      )}
      {(files.length > 0 || uploading > 0) && (
        <div className="composer-files" aria-live="polite">
          {files.map((f) => (
            <span key={f.key} className="chip">
              {f.file.name}
              <button type="button" className="icon-btn" aria-label={`Remove ${f.file.name}`} disabled={uploading > 0} onClick={() => setFiles((prev) => prev.filter((x) => x.key !== f.key))}>
                <IconClose />
              </button>
            </span>
          ))}
          {uploading > 0 && <span className="chip">Uploading…</span>}
        </div>
      )}
      {suggest && candidates.length > 0 && (
        <div className="popover mention-suggest menu" role="listbox" aria-label="Mention someone">
          {candidates.map((c, i) => (
            <button key={c.userId} type="button" role="option" aria-selected={i === suggest.index} onMouseDown={(e) => (e.preventDefault(), pickMention(c))}>
              {c.name} {c.username && <span className="conv-time">@{c.username}</span>}
            </button>
          ))}
        </div>
      )}
      {emoji && <EmojiPicker label="Insert emoji" onPick={insertEmoji} onClose={() => setEmoji(false)} className="composer-emoji" />}
      <div className="composer-box">
        <button type="button" className="icon-btn" aria-label="Attach files" title="Attach files" onClick={() => fileInput.current?.click()} disabled={!!editing}>
          <IconPaperclip />
        </button>
        <input ref={fileInput} type="file" multiple hidden onChange={(e) => attach(e.target.files)} aria-hidden="true" tabIndex={-1} />
        {voice.state !== 'idle' && (
          <div className="recording" role="status">
            <span className="dot" aria-hidden="true" />
            <span>{voice.state === 'starting' ? 'Starting the microphone…' : `Recording ${formatClock(voice.elapsedMs)}`}</span>
            <span className="grow" />
            <button type="button" className="btn btn-ghost btn-small" onClick={() => voice.cancel()}>
              Cancel<span className="visually-hidden"> the voice note</span>
            </button>
            <button type="button" className="btn btn-primary btn-small" disabled={voice.state !== 'recording'} onClick={() => void sendVoice()}>
              Send voice note
            </button>
          </div>
        )}
        <label htmlFor="composer-input" className="visually-hidden">
          {editing ? 'Edit message' : 'Message'}
        </label>
        <textarea
          hidden={voice.state !== 'idle'}
          id="composer-input"
          ref={area}
          rows={1}
          placeholder={editing ? 'Edit your message' : 'Write a message'}
          value={text}
          maxLength={16_000}
          onChange={onChange}
          onKeyDown={onKeyDown}
          onBlur={() => setTimeout(() => setSuggest(null), 150)}
          aria-describedby="composer-hint"
        />
        <span id="composer-hint" className="visually-hidden">
          Enter sends, Shift+Enter adds a line. **bold**, _italic_ and `code` are formatted.
        </span>
        <button type="button" className="icon-btn" aria-label="Insert emoji" aria-expanded={emoji} onClick={() => setEmoji((x) => !x)}>
          <IconSmile />
        </button>
        {!text.trim() && !files.length && !editing && voice.supported ? (
          <button type="button" className="icon-btn send-btn" aria-label="Record a voice note" title="Record a voice note" disabled={voice.state !== 'idle'} onClick={() => void voice.start().catch((err: unknown) => toast(voiceError(err)))}>
            <IconMic />
          </button>
        ) : (
          <button type="button" className="icon-btn send-btn" aria-label={editing ? 'Save edit' : 'Send'} onClick={() => void send()} disabled={(!text.trim() && !files.length) || uploading > 0}>
            <IconSend />
          </button>
        )}
      </div>
    </div>
  );
}

type RecorderState = 'idle' | 'starting' | 'recording';

/**
 * A voice note with MediaRecorder: start asks for the microphone, stop hands back the
 * recording and its length, cancel throws it away. The microphone is released either way.
 */
function useVoiceRecorder() {
  const supported = typeof MediaRecorder !== 'undefined' && !!navigator.mediaDevices?.getUserMedia;
  const [state, setState] = useState<RecorderState>('idle');
  const [elapsedMs, setElapsedMs] = useState(0);
  const rec = useRef<{ recorder: MediaRecorder; stream: MediaStream; chunks: Blob[]; startedAt: number; timer: ReturnType<typeof setInterval> } | null>(null);

  const release = () => {
    const r = rec.current;
    rec.current = null;
    if (!r) return;
    clearInterval(r.timer);
    for (const t of r.stream.getTracks()) t.stop();
    setState('idle');
    setElapsedMs(0);
  };
  useEffect(() => () => {
    if (rec.current?.recorder.state === 'recording') rec.current.recorder.stop();
    release();
  }, []);

  const start = async () => {
    if (state !== 'idle') return;
    setState('starting');
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const type = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/mp4'].find((t) => MediaRecorder.isTypeSupported(t));
      const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
      const chunks: Blob[] = [];
      recorder.ondataavailable = (e) => e.data.size > 0 && chunks.push(e.data);
      const startedAt = Date.now();
      const timer = setInterval(() => setElapsedMs(Date.now() - startedAt), 250);
      rec.current = { recorder, stream, chunks, startedAt, timer };
      recorder.start();
      setState('recording');
    } catch (err) {
      setState('idle');
      throw err;
    }
  };

  const stop = (): Promise<{ blob: Blob; durationMs: number } | null> => {
    const r = rec.current;
    if (!r || r.recorder.state !== 'recording') return Promise.resolve(null);
    return new Promise((resolve) => {
      r.recorder.onstop = () => {
        const durationMs = Date.now() - r.startedAt;
        // The recorder's type without codec parameters: the server stores the media type.
        const type = (r.recorder.mimeType || 'audio/webm').split(';')[0]!;
        release();
        resolve(r.chunks.length ? { blob: new Blob(r.chunks, { type }), durationMs } : null);
      };
      r.recorder.stop();
    });
  };

  const cancel = () => {
    const r = rec.current;
    if (r && r.recorder.state === 'recording') {
      r.recorder.onstop = null;
      r.recorder.stop();
    }
    release();
  };

  return { supported, state, elapsedMs, start, stop, cancel };
}

function voiceError(err: unknown): string {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'Parley may not use the microphone. Allow it in the browser’s site settings.';
  if (name === 'NotFoundError') return 'No microphone was found.';
  return 'The microphone could not be started.';
}
