import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { Button, Card, Empty, ErrorBox, Loading } from "../components/States";

type Container = Record<string, unknown>;

export function Containers() {
  const qc = useQueryClient();
  const list = useQuery({
    queryKey: ["containers"],
    queryFn: () => unwrap(api.GET("/api/docker/containers", { params: { query: { all: true } } })),
    retry: false,
    refetchInterval: 10000,
  });
  const act = useMutation({
    mutationFn: ({ id, action }: { id: string; action: "stop" | "remove" }) =>
      action === "stop"
        ? unwrap(api.POST("/api/docker/containers/{container_id}/stop", { params: { path: { container_id: id } } }))
        : unwrap(api.DELETE("/api/docker/containers/{container_id}", { params: { path: { container_id: id } } })),
    onSettled: () => void qc.invalidateQueries({ queryKey: ["containers"] }),
  });
  const rows = (Array.isArray(list.data) ? list.data : []) as Container[];
  return (
    <Card title="Containers (Docker mode)">
      {list.isPending ? (
        <Loading what="Asking Docker" />
      ) : list.isError ? (
        <ErrorBox error={list.error} retry={() => void list.refetch()} />
      ) : rows.length === 0 ? (
        <Empty>No autotuner containers.</Empty>
      ) : (
        <table className="w-full text-left text-sm">
          <thead className="border-b border-slate-200 text-xs text-slate-500">
            <tr>
              <th className="px-2 py-1">Name</th>
              <th className="px-2 py-1">Image</th>
              <th className="px-2 py-1">Status</th>
              <th className="px-2 py-1">Actions</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => {
              const id = String(c.id ?? "");
              return (
                <tr key={id} className="border-b border-slate-100">
                  <td className="px-2 py-1">{String(c.name ?? id)}</td>
                  <td className="px-2 py-1">{String(c.image ?? "")}</td>
                  <td className="px-2 py-1">{String(c.status ?? "")}</td>
                  <td className="flex gap-1 px-2 py-1">
                    <Button onClick={() => act.mutate({ id, action: "stop" })}>Stop</Button>
                    <Button kind="danger" onClick={() => act.mutate({ id, action: "remove" })}>
                      Remove
                    </Button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {act.error && <ErrorBox error={act.error} />}
    </Card>
  );
}
