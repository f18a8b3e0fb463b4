// Sign in with an API token (from `autotuner users add NAME --role ROLE`); the server keeps it in an HttpOnly cookie.
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { meKey, signIn } from "../api/auth";
import { Button, Card, ErrorBox } from "../components/States";

export function SignIn() {
  const qc = useQueryClient();
  const [token, setToken] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await signIn(token);
      setToken("");
      qc.setQueryData(meKey, me);
      void qc.invalidateQueries({ predicate: (q) => q.queryKey[0] !== meKey[0] }); // read again, as this user
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="mx-auto mt-16 max-w-md">
      <Card title="Sign in">
        <form className="space-y-3" onSubmit={(e) => void submit(e)}>
          <p className="text-sm text-slate-600">
            This server needs an API token. An admin makes one with{" "}
            <code className="rounded bg-slate-100 px-1">autotuner users add NAME --role operator</code>.
          </p>
          <label className="block text-sm">
            <span className="text-slate-700">API token</span>
            <input
              name="token"
              type="password"
              autoComplete="current-password"
              aria-label="API token"
              className="mt-1 w-full rounded border border-slate-300 px-2 py-1.5 font-mono text-sm"
              value={token}
              onChange={(e) => setToken(e.target.value)}
              placeholder="atk_…"
            />
          </label>
          {error !== null && <ErrorBox error={error} />}
          <Button kind="primary" type="submit" disabled={!token.trim() || busy}>
            Sign in
          </Button>
        </form>
      </Card>
    </div>
  );
}
