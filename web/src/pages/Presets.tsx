import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, getText, type Preset, unwrap } from "../api/client";
import { useCan } from "../api/auth";
import { usePresets } from "../api/hooks";
import { Button, Card, Empty, ErrorBox, Loading } from "../components/States";
import { downloadText } from "./TaskDetail";

export function Presets() {
  const qc = useQueryClient();
  const presets = usePresets();
  const allowed = useCan();
  const [name, setName] = useState("");
  const [category, setCategory] = useState<"parameters" | "quantization" | "parallel">("parameters");
  const [runtime, setRuntime] = useState("");
  const [params, setParams] = useState('{"parallel": [1, 2, 4]}');
  const [description, setDescription] = useState("");
  const [editing, setEditing] = useState<Preset | null>(null); // the user preset being edited, or null: new one
  const refresh = () => void qc.invalidateQueries({ queryKey: ["presets"] });
  const resetForm = () => {
    setEditing(null);
    setName("");
    setDescription("");
    setCategory("parameters");
    setRuntime("");
    setParams('{"parallel": [1, 2, 4]}');
  };
  const startEdit = (p: Preset) => {
    setEditing(p);
    setName(p.name);
    setDescription(p.description ?? "");
    setCategory(p.category as typeof category);
    setRuntime(p.runtime ?? "");
    setParams(JSON.stringify(p.parameters));
  };
  const body = () => ({
    name,
    description: description || null,
    category,
    runtime: runtime || null,
    parameters: JSON.parse(params) as Record<string, unknown>,
  });
  const save = useMutation({
    mutationFn: () =>
      editing
        ? unwrap(api.PUT("/api/presets/{preset_id}", { params: { path: { preset_id: editing.id } }, body: body() }))
        : unwrap(api.POST("/api/presets/", { body: body() })),
    onSuccess: () => {
      refresh();
      resetForm();
    },
  });
  const remove = useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE("/api/presets/{preset_id}", { params: { path: { preset_id: id } } })),
    onSettled: refresh,
  });
  const importFile = useMutation({
    mutationFn: async (file: File) => {
      const r = await fetch("/api/presets/import", {
        method: "POST",
        headers: { "Content-Type": file.name.endsWith(".json") ? "application/json" : "application/yaml" },
        body: await file.text(),
      });
      if (!r.ok) throw new Error(`import failed: HTTP ${r.status} ${await r.text()}`);
    },
    onSuccess: refresh,
  });
  return (
    <div className="space-y-4">
      <Card
        title="Presets"
        actions={
          <div className="flex gap-2">
            <Button
              onClick={() =>
                void getText("/api/presets/export").then((t) => downloadText("presets.json", t, "application/json"))
              }
            >
              Export all
            </Button>
            {allowed.write && (
              <label className="cursor-pointer rounded border border-slate-300 px-3 py-1.5 text-sm">
                Import
                <input
                  type="file"
                  className="hidden"
                  accept=".json,.yaml,.yml"
                  onChange={(e) => e.target.files?.[0] && importFile.mutate(e.target.files[0])}
                />
              </label>
            )}
          </div>
        }
      >
        {importFile.error && <ErrorBox error={importFile.error} />}
        {presets.isPending ? (
          <Loading what="Loading presets" />
        ) : presets.isError ? (
          <ErrorBox error={presets.error} retry={() => void presets.refetch()} />
        ) : presets.data.length === 0 ? (
          <Empty>No presets.</Empty>
        ) : (
          <table className="w-full text-left text-sm">
            <thead className="border-b border-slate-200 text-xs text-slate-500">
              <tr>
                <th className="px-2 py-1">Name</th>
                <th className="px-2 py-1">Category</th>
                <th className="px-2 py-1">Engine</th>
                <th className="px-2 py-1">Parameters</th>
                <th className="px-2 py-1" />
              </tr>
            </thead>
            <tbody>
              {presets.data.map((p) => (
                <tr key={p.id} className="border-b border-slate-100 align-top">
                  <td className="px-2 py-1">
                    <div className="font-medium">{p.name}</div>
                    <div className="text-xs text-slate-500">{p.description}</div>
                  </td>
                  <td className="px-2 py-1">{p.category}</td>
                  <td className="px-2 py-1">{p.runtime ?? "any"}</td>
                  <td className="px-2 py-1">
                    <code className="text-xs">{JSON.stringify(p.parameters)}</code>
                  </td>
                  <td className="px-2 py-1">
                    {p.is_system ? (
                      <span className="text-xs text-slate-400">system</span>
                    ) : !allowed.change(p.owner_id) ? (
                      <span className="text-xs text-slate-400">another user's</span>
                    ) : (
                      <div className="flex gap-1">
                        <Button onClick={() => startEdit(p)} aria-label={`Edit ${p.name}`}>
                          Edit
                        </Button>
                        <Button kind="danger" onClick={() => remove.mutate(p.id)}>
                          Delete
                        </Button>
                      </div>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {allowed.write && (
        <Card
          title={editing ? `Edit preset '${editing.name}'` : "New preset"}
          actions={
            editing && (
              <Button
                onClick={() => {
                  resetForm();
                  save.reset();
                }}
              >
                Cancel edit
              </Button>
            )
          }
        >
          <div className="grid gap-2 md:grid-cols-4">
            <input
              className="rounded border px-2 py-1 text-sm"
              placeholder="name"
              aria-label="Preset name"
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
            <select
              className="rounded border px-2 py-1 text-sm"
              value={category}
              onChange={(e) => setCategory(e.target.value as typeof category)}
            >
              <option>parameters</option>
              <option>quantization</option>
              <option>parallel</option>
            </select>
            <input
              className="rounded border px-2 py-1 text-sm"
              placeholder="engine (empty: any)"
              value={runtime}
              onChange={(e) => setRuntime(e.target.value)}
            />
            <Button kind="primary" onClick={() => save.mutate()} disabled={!name || save.isPending}>
              {editing ? "Save" : "Create"}
            </Button>
            <input
              className="rounded border px-2 py-1 text-sm md:col-span-4"
              placeholder="description (optional)"
              aria-label="Preset description"
              value={description}
              onChange={(e) => setDescription(e.target.value)}
            />
            <textarea
              className="rounded border px-2 py-1 font-mono text-xs md:col-span-4"
              rows={3}
              aria-label="Preset parameters (JSON)"
              value={params}
              onChange={(e) => setParams(e.target.value)}
            />
          </div>
          {save.error && <ErrorBox error={save.error} />}
        </Card>
      )}
    </div>
  );
}
