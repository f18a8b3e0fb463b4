import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../App";
import { type Me, can, meKey } from "../api/auth";
import { api, type Task } from "../api/client";
import { TaskActions } from "../pages/Tasks";

const me = (over: Partial<Me>): Me => ({
  name: "alice",
  role: "operator",
  user_id: 7,
  auth_enabled: true,
  can_write: true,
  is_admin: false,
  ...over,
});

const json = (status: number, body: unknown) =>
  Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));

function renderWith(ui: ReactNode, who?: Me | null, path = "/") {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  if (who !== undefined) qc.setQueryData(meKey, who);
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[path]} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        {ui}
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe("can()", () => {
  it("admins change anything, operators their own, viewers nothing; unknown: the server decides", () => {
    const admin = can(me({ role: "admin", is_admin: true, user_id: 1 }));
    expect(admin.change(7)).toBe(true);
    expect(admin.change(null)).toBe(true);
    const alice = can(me({}));
    expect(alice.write).toBe(true);
    expect(alice.admin).toBe(false);
    expect(alice.change(7)).toBe(true);
    expect(alice.change(8)).toBe(false);
    expect(alice.change(null)).toBe(false);
    const viewer = can(me({ role: "viewer", can_write: false }));
    expect(viewer.write).toBe(false);
    expect(viewer.change(7)).toBe(false);
    expect(can(undefined).change(3)).toBe(true);
  });
});

describe("sign-in", () => {
  it("shows the sign-in page on 401, signs in with a token, then hides what an operator cannot do", async () => {
    let signedIn = false;
    const fetchMock = vi.fn((url: string, init?: RequestInit) => {
      if (url === "/api/auth/session" && init?.method === "POST") {
        const { token } = JSON.parse(String(init.body)) as { token: string };
        if (token !== "atk_good") return json(401, { detail: "the API token is unknown or revoked", hint: null });
        signedIn = true;
        return json(200, me({}));
      }
      if (url === "/api/auth/me") return signedIn ? json(200, me({})) : json(401, { detail: "sign in" });
      return json(200, []);
    });
    vi.stubGlobal("fetch", fetchMock);
    vi.spyOn(api, "GET").mockImplementation((() =>
      Promise.resolve({ data: [], error: undefined, response: new Response(null, { status: 200 }) })) as never);
    renderWith(<App />);
    const input = await screen.findByLabelText("API token");
    fireEvent.change(input, { target: { value: "atk_bad" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("the API token is unknown or revoked")).toBeInTheDocument();
    fireEvent.change(input, { target: { value: " atk_good " } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByTestId("signed-in")).toHaveTextContent("alice (operator)");
    expect(screen.getByRole("link", { name: "New task" })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Containers" })).not.toBeInTheDocument();
    const posted = fetchMock.mock.calls.find(([, init]) => init?.method === "POST");
    expect(posted?.[1]?.headers).toEqual({ "Content-Type": "application/json" });
  });

  it("single-user mode: no sign-in page, every page offered, no sign-out", async () => {
    vi.spyOn(api, "GET").mockImplementation((() =>
      Promise.resolve({ data: [], error: undefined, response: new Response(null, { status: 200 }) })) as never);
    renderWith(<App />, me({ name: "local", role: "admin", user_id: null, auth_enabled: false, is_admin: true }));
    expect(await screen.findByRole("link", { name: "Containers" })).toBeInTheDocument();
    expect(screen.queryByLabelText("API token")).not.toBeInTheDocument();
    expect(screen.queryByTestId("signed-in")).not.toBeInTheDocument();
  });

  it("a viewer gets no New task page", async () => {
    vi.spyOn(api, "GET").mockImplementation((() =>
      Promise.resolve({ data: [], error: undefined, response: new Response(null, { status: 200 }) })) as never);
    renderWith(<App />, me({ name: "vic", role: "viewer", can_write: false }), "/tasks/new");
    expect(await screen.findByText(/Your role \(viewer\) cannot create tasks/)).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "New task" })).not.toBeInTheDocument();
  });
});

describe("task actions by role", () => {
  const task = { id: 1, name: "t", status: "pending", owner_id: 7 } as Task;
  it("offers start to the owner and an admin, nothing to another operator or a viewer", async () => {
    renderWith(<TaskActions task={task} />, me({}));
    expect(await screen.findByRole("button", { name: "Start" })).toBeInTheDocument();
    cleanup();
    renderWith(<TaskActions task={task} />, me({ name: "bob", user_id: 8 }));
    await waitFor(() => expect(screen.queryByRole("button", { name: "Start" })).not.toBeInTheDocument());
    cleanup();
    renderWith(<TaskActions task={task} />, me({ role: "viewer", can_write: false }));
    expect(screen.queryByRole("button")).not.toBeInTheDocument();
    cleanup();
    renderWith(<TaskActions task={task} />, me({ role: "admin", is_admin: true, user_id: 1 }));
    expect(screen.getByRole("button", { name: "Start" })).toBeInTheDocument();
  });
});
