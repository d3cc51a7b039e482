// media.js: image attachments. Uploading is two steps: POST /v1/media reserves
// an id and returns a presigned upload, then the bytes go straight to storage
// with exactly the headers it names (the browser sets Content-Length from the
// body). The id then travels in the message's media_ids. Showing an image:
// GET /v1/media/{id} needs the Bearer header and redirects to the bytes, so an
// <img src> cannot load it; the blob is fetched and shown as a blob: URL
// (allowed by the CSP's img-src), one download per id per tab. Conversations
// show the 320-px preview (?variant=thumb, made by the server shortly after the
// image is sent) and fall back to the original while there is none; clicking a
// picture opens the original.

import { api, apiBlob, problemOf, ApiError, seg } from './api.js';

export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'];
export const MAX_IMAGE_BYTES = 16 * 1024 * 1024;

/** Plain words when this file cannot be attached, else null. */
export function checkImage(file) {
  if (!IMAGE_TYPES.includes(file.type)) return 'Only JPEG, PNG, WebP and GIF images can be attached.';
  if (file.size > MAX_IMAGE_BYTES) return 'That image is too large (at most 16 MiB).';
  if (file.size === 0) return 'That file is empty.';
  return null;
}

/** Uploads one image; returns its media id. Errors: ApiError with the server's detail. */
export async function uploadImage(file) {
  const problem = checkImage(file);
  if (problem) throw new ApiError({ status: 422, detail: problem });
  const r = await api('POST', '/v1/media', { body: { content_type: file.type, size: file.size, filename: file.name || 'image' } });
  const { media_id: id, upload } = r.body;
  const headers = {};
  for (const [k, v] of Object.entries(upload.headers ?? {})) if (k.toLowerCase() !== 'content-length') headers[k] = v;
  let res;
  try {
    res = await fetch(upload.url, { method: upload.method || 'PUT', headers, body: file, credentials: 'omit',
                                    signal: AbortSignal.timeout(120_000) });
  } catch {
    throw new ApiError({ network: true, detail: 'The upload did not get through. Check your connection and try again.' });
  }
  if (!res.ok) throw await problemOf(res);
  return id;
}

const urls = new Map(); // "id" (original) or "id/thumb" -> blob: URL (loaded)
const loading = new Map(); // same keys -> Promise<blob: URL>

/** The blob: URL of media id (thumb: its preview) when already downloaded, else null. */
export const loadedUrl = (id, thumb = false) => urls.get(thumb ? `${id}/thumb` : `${id}`) ?? null;

function load(key, path) {
  if (urls.has(key)) return Promise.resolve(urls.get(key));
  if (!loading.has(key)) {
    const p = apiBlob(path)
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        urls.set(key, url);
        return url;
      })
      .finally(() => loading.delete(key));
    loading.set(key, p);
  }
  return loading.get(key);
}

/** Downloads media id once; resolves to a blob: URL of the original. */
export const mediaUrl = (id) => load(`${id}`, `/v1/media/${seg(id)}`);

/** The preview of image id, or the original while it has none (404). */
export function previewUrl(id) {
  return load(`${id}/thumb`, `/v1/media/${seg(id)}?variant=thumb`).catch((e) => {
    if (e instanceof ApiError && e.status === 404) return mediaUrl(id);
    throw e;
  });
}

/** Frees the downloaded images (sign-out). */
export function forgetMedia() {
  for (const url of urls.values()) URL.revokeObjectURL(url);
  urls.clear();
}
