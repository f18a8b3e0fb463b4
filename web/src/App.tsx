import { NavLink, Route, Routes } from "react-router-dom";
import { Compare } from "./pages/Compare";
import { Containers } from "./pages/Containers";
import { Dashboard } from "./pages/Dashboard";
import { ExperimentDetail } from "./pages/ExperimentDetail";
import { NewTask } from "./pages/NewTask";
import { Presets } from "./pages/Presets";
import { TaskDetail } from "./pages/TaskDetail";
import { Tasks } from "./pages/Tasks";
import { Empty } from "./components/States";

const NAV = [
  ["/", "Dashboard"],
  ["/tasks", "Tasks"],
  ["/tasks/new", "New task"],
  ["/containers", "Containers"],
  ["/presets", "Presets"],
] as const;

export function App() {
  return (
    <div className="min-h-screen text-slate-900">
      <header className="border-b border-slate-200 bg-white">
        <nav className="mx-auto flex max-w-7xl items-center gap-6 px-4 py-3">
          <span className="font-semibold">inference-autotuner</span>
          {NAV.map(([to, label]) => (
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
        </nav>
      </header>
      <main className="mx-auto max-w-7xl space-y-4 px-4 py-4">
        <Routes>
          <Route path="/" element={<Dashboard />} />
          <Route path="/tasks" element={<Tasks />} />
          <Route path="/tasks/new" element={<NewTask />} />
          <Route path="/compare" element={<Compare />} />
          <Route path="/tasks/:taskId" element={<TaskDetail />} />
          <Route path="/tasks/:taskId/experiments/:experimentId" element={<ExperimentDetail />} />
          <Route path="/containers" element={<Containers />} />
          <Route path="/presets" element={<Presets />} />
          <Route path="*" element={<Empty>Page not found.</Empty>} />
        </Routes>
      </main>
    </div>
  );
}
