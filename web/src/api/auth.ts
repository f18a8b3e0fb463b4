// Who is signed in, and what the web app offers them. The token lives in an HttpOnly, SameSite=Strict cookie the
// server sets at sign-in (POST /api/auth/session): every fetch, the task WebSocket and the log stream carry it, and no
// script on the page can read it. In single-user mode (no users, loopback) /api/auth/me answers the admin "local".
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type Schemas, toApiError } from "./client";

export type Me = Schemas["Me"];

export const meKey = ["me"] as const;

/** The signed-in user; null when the server needs a token and none (or a revoked one) was given. */
export async function fetchMe(): Promise<Me | null> {
  const r = await fetch("/api/auth/me");
  if (r.status === 401) return null;
  const body: unknown = await r.json().catch(() => undefined);
  if (!r.ok) throw toApiError(r.status, body);
  return body as Me;
}

export async function signIn(token: string): Promise<Me> {
  const r = await fetch("/api/auth/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: token.trim() }),
  });
  const body: unknown = await r.json().catch(() => undefined);
  if (!r.ok) throw toApiError(r.status, body);
  return body as Me;
}

export async function signOut(): Promise<void> {
  await fetch("/api/auth/session", { method: "DELETE" });
}

export function useMe() {
  return useQuery({ queryKey: meKey, queryFn: fetchMe, retry: false, staleTime: 60_000, refetchInterval: 60_000 });
}

export function useSignOut() {
  const qc = useQueryClient();
  return async () => {
    await signOut();
    qc.removeQueries({ predicate: (q) => q.queryKey[0] !== meKey[0] }); // nothing of this user stays cached
    qc.setQueryData(meKey, null); // the sign-in page
    await qc.invalidateQueries({ queryKey: meKey });
  };
}

/** What the current user may do. While it is not known yet (or the check failed) everything is offered: the server
 * decides anyway, and answers 403 with the reason. */
export interface Can {
  write: boolean;
  admin: boolean;
  change: (ownerId: number | null | undefined) => boolean;
}

export function can(me: Me | null | undefined): Can {
  if (!me) return { write: true, admin: true, change: () => true };
  return {
    write: me.can_write,
    admin: me.is_admin,
    change: (ownerId) => me.is_admin || (me.can_write && ownerId != null && ownerId === me.user_id),
  };
}

export function useCan(): Can {
  return can(useMe().data);
}
