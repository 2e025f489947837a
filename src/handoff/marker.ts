import { handoffMarker } from './note.js';

/** Whether a body carries this exact key's marker (not a longer key that starts with it). */
export function containsMarker(body: string, key: string): boolean {
  const marker = handoffMarker(key);
  for (let at = body.indexOf(marker); at >= 0; at = body.indexOf(marker, at + 1)) {
    if (!/[A-Za-z0-9._-]/.test(body.charAt(at + marker.length))) return true;
  }
  return false;
}
