// The quantization and parallelism cards: none, named presets (checkboxes), or custom values per field.
import type { Problem } from "../../api/client";
import { Card } from "../../components/States";
import { Field, FieldErrors, ModePicker, inputClass } from "../../components/Form";
import type { ConfigMode } from "../../lib/spec";

export interface PresetItem {
  id: number;
  name: string;
  description?: string | null;
}

export function ConfigCard({
  title,
  name,
  mode,
  onMode,
  presets,
  noPresets,
  chosen,
  onChosen,
  fields,
  custom,
  onCustom,
  columns,
  placeholder,
  problemsAt,
}: {
  title: string;
  name: string; // the spec section: quant_config | parallel_config
  mode: ConfigMode;
  onMode: (m: ConfigMode) => void;
  presets: PresetItem[];
  noPresets?: string;
  chosen: string[];
  onChosen: (names: string[]) => void;
  fields: [string, string | undefined][]; // field name, help
  custom: Record<string, string>;
  onCustom: (values: Record<string, string>) => void;
  columns: string; // tailwind grid class
  placeholder?: string;
  problemsAt: (prefix: string) => Problem[];
}) {
  return (
    <Card title={title}>
      <ModePicker name={name.split("_")[0] ?? name} value={mode} onChange={onMode} />
      {mode === "preset" && (
        <div className="mt-2 space-y-1 text-sm">
          {presets.length === 0 && noPresets && <p className="text-xs text-slate-500">{noPresets}</p>}
          {presets.map((p) => (
            <label key={p.id} className="flex items-center gap-2">
              <input
                type="checkbox"
                checked={chosen.includes(p.name)}
                onChange={(e) => onChosen(e.target.checked ? [...chosen, p.name] : chosen.filter((n) => n !== p.name))}
              />
              <span className="font-medium">{p.name}</span>
              <span className="text-xs text-slate-500">{p.description}</span>
            </label>
          ))}
        </div>
      )}
      {mode === "custom" && (
        <div className={`mt-2 grid ${columns} gap-2`}>
          {fields.map(([f, help]) => (
            <Field key={f} label={f} problems={problemsAt(`${name}.${f}`)} help={help}>
              <input
                className={inputClass}
                value={custom[f] ?? ""}
                placeholder={placeholder}
                onChange={(e) => onCustom({ ...custom, [f]: e.target.value })}
              />
            </Field>
          ))}
        </div>
      )}
      <FieldErrors problems={problemsAt(name)} />
    </Card>
  );
}
