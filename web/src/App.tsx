import { NavLink, Route, Routes } from "react-router-dom";
import { can, useMe, useSignOut } from "./api/auth";
import { Compare } from "./pages/Compare";
import { Containers } from "./pages/Containers";
import { Dashboard } from "./pages/Dashboard";
import { ExperimentDetail } from "./pages/ExperimentDetail";
import { NewTask } from "./pages/NewTask";
import { Presets } from "./pages/Presets";
import { TaskDetail } from "./pages/TaskDetail";
import { Tasks } from "./pages/Tasks";
import { SignIn } from "./pages/SignIn";
import { Empty, Loading } from "./components/States";

// [path, label, who sees it]: the role decides (GET /api/auth/me); the server enforces it either way
const NAV = [
  ["/", "Dashboard", "all"],
  ["/tasks", "Tasks", "all"],
  ["/tasks/new", "New task", "write"],
  ["/containers", "Containers", "admin"],
  ["/presets", "Presets", "all"],
] as const;

export function App() {
  const me = useMe();
  const signOut = useSignOut();
  if (me.isPending) return <Loading />;
  if (me.data === null) return <SignIn />; // the server needs a token
  const allowed = can(me.data);
  const shows = (who: string) => who === "all" || (who === "write" ? allowed.write : allowed.admin);
  const forbidden = (what: string) => (
    <Empty>
      Your role ({me.data?.role}) cannot {what}.
    </Empty>
  );
  return (
    <div className="min-h-screen text-slate-900">
      <header className="border-b border-slate-200 bg-white">
        <nav className="mx-auto flex max-w-7xl items-center gap-6 px-4 py-3">
          <span className="font-semibold">inference-autotuner</span>
          {NAV.filter(([, , who]) => shows(who)).map(([to, label]) => (
            <NavLink
              key={to}
              to={to}
              end
              className={({ isActive }) => `text-sm ${isActive ? "font-semibold text-blue-700" : "text-slate-600"}`}
            >
              {label}
            </NavLink>
          ))}
          <a className="ml-auto text-sm text-slate-500" href="/docs">
            API docs
          </a>
          {me.data?.auth_enabled && (
            <span className="flex items-center gap-2 text-sm text-slate-600" data-testid="signed-in">
              {me.data.name} ({me.data.role})
              <button className="underline" onClick={() => void signOut()}>
                Sign out
              </button>
            </span>
          )}
        </nav>
      </header>
      <main className="mx-auto max-w-7xl space-y-4 px-4 py-4">
        <Routes>
          <Route path="/" element={<Dashboard />} />
          <Route path="/tasks" element={<Tasks />} />
          <Route path="/tasks/new" element={allowed.write ? <NewTask /> : forbidden("create tasks")} />
          <Route path="/compare" element={<Compare />} />
          <Route path="/tasks/:taskId" element={<TaskDetail />} />
          <Route path="/tasks/:taskId/experiments/:experimentId" element={<ExperimentDetail />} />
          <Route path="/containers" element={allowed.admin ? <Containers /> : forbidden("manage containers")} />
          <Route path="/presets" element={<Presets />} />
          <Route path="*" element={<Empty>Page not found.</Empty>} />
        </Routes>
      </main>
    </div>
  );
}
