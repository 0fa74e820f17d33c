import { ApiError, apiErrorFrom } from './errors.ts';

/** A binary body: bytes, or a browser `Blob`/`File` (anything `fetch` accepts as a body). */
export type BinaryBody = Uint8Array | ArrayBuffer | { readonly size: number; readonly type: string; arrayBuffer(): Promise<ArrayBuffer> };

/** What the SDK hands to fetch as a body (kept to types every fetch accepts, the DOM's included). */
export type FetchBody = string | ArrayBuffer | Uint8Array<ArrayBuffer>;

export type FetchLike = (input: string, init: { method: string; headers: Record<string, string>; body?: FetchBody; signal?: AbortSignal }) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

export interface HttpOptions {
  /** The server's base URL, e.g. `https://chat.example.com` (no `/v1`). */
  baseUrl: string;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** Abort a request after this many milliseconds (default 30 s). */
  timeoutMs?: number;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  body?: unknown;
  /** Send these bytes as the body, with this content type, instead of JSON. */
  raw?: { body: BinaryBody; contentType: string };
  /** Read the answer as bytes instead of JSON. */
  binary?: boolean;
  headers?: Record<string, string>;
  query?: Query;
  /** Send the bearer token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
}

/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date). */
function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

/** JSON over fetch with the bearer token; every failure becomes an `ApiError`. */
export class Http {
  readonly baseUrl: string;
  token: string | null = null;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;

  constructor(options: HttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const f = options.fetch ?? (globalThis.fetch as unknown as FetchLike | undefined);
    if (!f) throw new Error('no fetch available: pass options.fetch');
    this.fetchImpl = f;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: options.binary ? '*/*' : 'application/json', ...options.headers };
    if (options.auth !== false && this.token) headers.authorization = `Bearer ${this.token}`;
    let body: FetchBody | undefined;
    if (options.raw) {
      headers['content-type'] = options.raw.contentType;
      const raw = options.raw.body;
      body = raw instanceof ArrayBuffer ? raw : raw instanceof Uint8Array ? new Uint8Array(raw) : await raw.arrayBuffer();
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let url = this.baseUrl + path;
    if (options.query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(options.query)) if (v !== undefined) params.set(k, String(v));
      const qs = params.toString();
      if (qs) url += `?${qs}`;
    }
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let res: Awaited<ReturnType<FetchLike>>;
    let text = '';
    let bytes: ArrayBuffer | undefined;
    try {
      res = await this.fetchImpl(url, { method, headers, body, signal });
      if (options.binary && res.status >= 200 && res.status < 300) bytes = await res.arrayBuffer();
      else text = await res.text();
    } catch (err) {
      if (timeout.aborted) throw new ApiError('timeout', `${method} ${path} took longer than ${this.timeoutMs} ms`, { cause: err });
      throw new ApiError('network_error', `${method} ${path} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (bytes) return { bytes: new Uint8Array(bytes), contentType: res.headers.get('content-type') ?? 'application/octet-stream', status: res.status } as T;
    if (res.status >= 200 && res.status < 300) return parsed as T;
    const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
    const error = (parsed as { error?: { code?: unknown; message?: unknown; data?: unknown } } | undefined)?.error;
    if (error && typeof error.code === 'string') {
      return Promise.reject(
        apiErrorFrom({ code: error.code, message: typeof error.message === 'string' ? error.message : error.code, data: error.data as Record<string, unknown> | undefined }, res.status, retryAfter),
      );
    }
    // Not our JSON error shape (a proxy in between, say): keep the status, name it by class.
    const code = res.status === 401 ? 'unauthorized' : res.status === 404 ? 'not_found' : res.status === 429 ? 'rate_limited' : res.status >= 500 ? (res.status === 503 ? 'unavailable' : 'internal') : 'invalid_request';
    throw new ApiError(code, `${method} ${path} answered ${res.status}`, { status: res.status, retryAfter });
  }
}
