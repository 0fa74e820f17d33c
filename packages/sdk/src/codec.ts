import { PlainContent, type Content } from '@parley/protocol';

type MaybePromise<T> = T | Promise<T>;

/**
 * Turns what people write (`PlainContent`) into the opaque payload the server stores, and
 * back. The `plain` codec stores JSON; end-to-end encryption replaces it with an MLS codec
 * without touching the rest of the SDK.
 *
 * @example
 * const client = new ParleyClient({ baseUrl, codec: plainCodec });
 */
export interface ContentCodec {
  encode(conversationId: string, content: PlainContent): MaybePromise<Content>;
  /** Throws when the payload cannot be read (the SDK then shows the message as unreadable). */
  decode(conversationId: string, content: Content): MaybePromise<PlainContent>;
}

/**
 * The codec of `encoding: "plain"`: the content as JSON in `content.data`.
 *
 * @example
 * const content = plainCodec.encode(conversationId, { type: 'text', text: 'hi' });
 * // → { encoding: 'plain', data: '{"type":"text","text":"hi"}' }
 */
export const plainCodec: ContentCodec = {
  encode(_conversationId, content) {
    return { encoding: 'plain', data: JSON.stringify(content) };
  },
  decode(_conversationId, content) {
    if (content.encoding !== 'plain') throw new Error(`the plain codec cannot read ${content.encoding} content`);
    // Another client may write anything into a plain payload: check its shape before trusting it.
    return PlainContent.parse(JSON.parse(content.data));
  },
};
