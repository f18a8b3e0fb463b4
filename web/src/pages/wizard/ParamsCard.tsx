// The wizard's engine flags: one row per flag, its values to search, the live validation's problems under it.
import type { Problem } from "../../api/client";
import { FieldErrors, inputClass } from "../../components/Form";
import { Button, Card, ErrorBox } from "../../components/States";
import type { ParamRow } from "../../lib/spec";

export interface FlagInfo {
  name: string;
  type: string;
  tuned?: boolean;
  help: string;
}

export function ParamsCard({
  params,
  onChange,
  flags,
  flagsError,
  rowProblems,
}: {
  params: ParamRow[];
  onChange: (rows: ParamRow[]) => void;
  flags: FlagInfo[];
  flagsError: unknown;
  rowProblems: (name: string) => Problem[];
}) {
  return (
    <Card title="Parameters (engine flags without dashes; comma-separated values to search)">
      <datalist id="flag-names">
        {flags.map((f) => (
          <option key={f.name} value={f.name}>
            {f.type}
            {f.tuned ? " (commonly tuned)" : ""}: {f.help}
          </option>
        ))}
      </datalist>
      <div className="space-y-2">
        {params.map((row, i) => (
          <div key={i}>
            <div className="flex gap-2">
              <input
                className={`${inputClass} w-64`}
                list="flag-names"
                aria-label={`flag ${i + 1}`}
                data-testid={`param-name-${i}`}
                value={row.name}
                onChange={(e) => onChange(params.map((r, j) => (j === i ? { ...r, name: e.target.value } : r)))}
                placeholder="flag, e.g. threads"
              />
              <input
                className={inputClass}
                aria-label={`values ${i + 1}`}
                data-testid={`param-values-${i}`}
                value={row.values}
                onChange={(e) => onChange(params.map((r, j) => (j === i ? { ...r, values: e.target.value } : r)))}
                placeholder='values, e.g. 1, 2, 4 or {"type":"integer","low":1,"high":8}'
              />
              <Button onClick={() => onChange(params.filter((_, j) => j !== i))}>Remove</Button>
            </div>
            <FieldErrors problems={rowProblems(row.name)} />
          </div>
        ))}
        <Button onClick={() => onChange([...params, { name: "", values: "" }])}>Add flag</Button>
        {flagsError !== null && <ErrorBox error={flagsError} />}
      </div>
    </Card>
  );
}
