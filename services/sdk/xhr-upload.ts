/**
 * Uploads through XMLHttpRequest: the one browser API that reports the progress of a
 * request body (fetch reports none), so a progress bar can move while a photo goes out.
 * Node.js has no XMLHttpRequest; there the SDK uploads with fetch.
 */

/** The part of XMLHttpRequest the SDK uses. */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  abort(): void;
  readonly status: number;
  readonly responseText: string;
  getResponseHeader(name: string): string | null;
  readonly upload: { onprogress: ((event: { loaded: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
export type XhrConstructor = new () => XhrLike;

/** What came back, in the terms the asset API reads replies in. */
export interface HttpReply {
  status: number;
  text: string;
  retryAfter: string | null;
}

/**
 * POSTs `body` to `url` and resolves with the reply, whatever its status. Progress goes to
 * `onProgress` as the bytes leave. Fails like fetch does: a TypeError when the network
 * fails, the signal's reason when aborted, so callers handle both paths alike.
 */
export function xhrUpload(
  Xhr: XhrConstructor,
  url: string,
  headers: Record<string, string>,
  body: Blob,
  options: { onProgress?: (sentBytes: number) => void; signal?: AbortSignal },
): Promise<HttpReply> {
  const { signal, onProgress } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const xhr = new Xhr();
    const onAbortSignal = (): void => {
      xhr.abort();
    };
    const settle = (): void => {
      signal?.removeEventListener("abort", onAbortSignal);
    };
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onProgress) {
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded);
      };
    }
    xhr.onload = () => {
      settle();
      resolve({ status: xhr.status, text: xhr.responseText, retryAfter: xhr.getResponseHeader("retry-after") });
    };
    xhr.onerror = () => {
      settle();
      reject(new TypeError(`asset upload to ${url} failed: network error`));
    };
    xhr.onabort = () => {
      settle();
      reject((signal?.reason as Error | undefined) ?? new DOMException("the upload was aborted", "AbortError"));
    };
    signal?.addEventListener("abort", onAbortSignal);
    xhr.send(body);
  });
}
