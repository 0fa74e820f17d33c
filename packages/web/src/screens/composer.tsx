import { useEffect, useRef, useState, type ChangeEvent, type KeyboardEvent } from 'react';
import { LIMITS } from '@parley/protocol';
import type { Conversation, MessageView, PlainContent } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { uploadAttachment } from '../lib/attachments.ts';
import { describeError } from '../lib/errors.ts';
import { mentionRanges, type Chosen } from '../text/mentions.ts';
import { EmojiPicker } from '../ui/emoji-picker.tsx';
import { IconClose, IconEdit, IconPaperclip, IconReply, IconSend, IconSmile } from '../ui/icons.tsx';

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
  const [files, setFiles] = useState<{ id: string; name: string }[]>([]);
  const [uploading, setUploading] = useState(0);
  const [emoji, setEmoji] = useState(false);
  const [suggest, setSuggest] = useState<{ query: string; at: number; index: number } | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);
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
    requestAnimationFrame(() => {
      const el = area.current;
      if (!el) return;
      el.focus();
      el.selectionStart = el.selectionEnd = suggest.at + label.length + 1;
    });
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
      } else {
        const content: PlainContent = { type: 'text', text: body, ...(mentions.length ? { mentions } : {}) };
        if (replyTo?.id) content.replyPreview = { messageId: replyTo.id, senderId: replyTo.senderId, text: (replyTo.text ?? '').slice(0, 200) };
        await client.send(cid, content, {
          ...(replyTo?.id ? { refs: { replyTo: replyTo.id } } : {}),
          ...(files.length ? { attachmentIds: files.map((f) => f.id) } : {}),
        });
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

  const attach = async (list: FileList | null) => {
    if (!list?.length) return;
    for (const file of [...list].slice(0, LIMITS.attachmentsPerMessage - files.length)) {
      setUploading((n) => n + 1);
      try {
        const a = await uploadAttachment(client, file);
        setFiles((prev) => [...prev, { id: a.id, name: file.name }]);
      } catch (err) {
        toast(`${file.name}: ${describeError(err)}`);
      } finally {
        setUploading((n) => n - 1);
      }
    }
    if (fileInput.current) fileInput.current.value = '';
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
            <span key={f.id} className="chip">
              {f.name}
              <button type="button" className="icon-btn" aria-label={`Remove ${f.name}`} onClick={() => setFiles((prev) => prev.filter((x) => x.id !== f.id))}>
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
        <input ref={fileInput} type="file" multiple hidden onChange={(e) => void attach(e.target.files)} aria-hidden="true" tabIndex={-1} />
        <label htmlFor="composer-input" className="visually-hidden">
          {editing ? 'Edit message' : 'Message'}
        </label>
        <textarea
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
        <button type="button" className="icon-btn send-btn" aria-label={editing ? 'Save edit' : 'Send'} onClick={() => void send()} disabled={(!text.trim() && !files.length) || uploading > 0}>
          <IconSend />
        </button>
      </div>
    </div>
  );
}
