import { useEffect, useState, type FormEvent } from 'react';
import { validateSettingsPatch } from '../../contract/settings';
import type { AgentSettings, PublicSettings } from '../../contract/ui-contract';
import { useCopilot } from '../copilot-context';
import { errorMessage } from '../../base/errors';
import {
  SETTINGS_GROUPS,
  draftValue,
  toDraft,
  type Draft,
  type FieldSpec,
} from './settings-fields';

type Errors = Partial<Record<keyof AgentSettings, string>>;

/** Whether a write-only setting has a stored value (`xmppPasswordSet` for `xmppPassword`). */
function secretIsSet(saved: PublicSettings, key: keyof AgentSettings): boolean {
  const shown: Readonly<Record<string, unknown>> = saved;
  return shown[`${key}Set`] === true;
}

interface SettingFieldProps {
  spec: FieldSpec;
  draft: Draft;
  error: string | undefined;
  /** A write-only setting with a stored value: left empty, the stored one is kept. */
  keepsSecret: boolean;
  onChange: (key: keyof AgentSettings, raw: string | boolean) => void;
}

/** One setting of the form: its label, input, hint and error, from its FieldSpec. */
function SettingField({ spec, draft, error, keepsSecret, onChange }: SettingFieldProps) {
  const id = `setting-${spec.key}`;
  const hint = keepsSecret ? 'A password is set. Leave this empty to keep it.' : spec.hint;
  const placeholder = keepsSecret ? 'Password set; leave empty to keep' : spec.placeholder;
  const described = [error ? `${id}-error` : '', hint ? `${id}-hint` : '']
    .filter(Boolean)
    .join(' ');
  const raw = draft[spec.key];
  const disabled = spec.enabledBy !== undefined && draft[spec.enabledBy] === false;
  const common = {
    id,
    name: spec.key,
    disabled,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': described || undefined,
  };
  return (
    <div className={`field field-${spec.kind}${error ? ' field-invalid' : ''}`}>
      {spec.kind === 'checkbox' ? (
        <label htmlFor={id} className="check">
          <input
            {...common}
            type="checkbox"
            checked={raw === true}
            onChange={(e) => onChange(spec.key, e.target.checked)}
          />
          {spec.label}
        </label>
      ) : spec.kind === 'textarea' ? (
        <>
          <label htmlFor={id}>{spec.label}</label>
          <textarea
            {...common}
            rows={4}
            spellCheck={false}
            placeholder={spec.placeholder}
            value={String(raw)}
            onChange={(e) => onChange(spec.key, e.target.value)}
          />
        </>
      ) : (
        <>
          <label htmlFor={id}>{spec.label}</label>
          <div className="input-row">
            <input
              {...common}
              type={spec.kind === 'number' ? 'text' : spec.kind}
              inputMode={spec.kind === 'number' ? 'numeric' : undefined}
              autoComplete={spec.kind === 'password' ? 'current-password' : 'off'}
              spellCheck={false}
              placeholder={placeholder}
              value={String(raw)}
              onChange={(e) => onChange(spec.key, e.target.value)}
            />
            {spec.unit && <span className="unit">{spec.unit}</span>}
          </div>
        </>
      )}
      {hint && (
        <div id={`${id}-hint`} className="hint">
          {hint}
        </div>
      )}
      {error && (
        <div id={`${id}-error`} className="field-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

export function SettingsView() {
  const api = useCopilot();
  const [saved, setSaved] = useState<PublicSettings | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [errors, setErrors] = useState<Errors>({});
  const [notice, setNotice] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    let live = true;
    api.getSettings().then(
      (settings) => {
        if (!live) return;
        setSaved(settings);
        setDraft(toDraft(settings));
      },
      (e: unknown) => {
        if (live) setNotice({ kind: 'error', text: `Cannot load settings: ${errorMessage(e)}` });
      },
    );
    return () => {
      live = false;
    };
  }, [api]);

  if (!saved || !draft) return <p className="muted">{notice?.text ?? 'Loading…'}</p>;

  // The password comes back blank (it is write-only), so it is sent only when the volunteer types one.
  const changedPatch = (): Record<string, unknown> => {
    const patch: Record<string, unknown> = {};
    for (const key of Object.keys(draft) as Array<keyof AgentSettings>) {
      const value = draftValue(key, draft[key]);
      if (!Object.is(value, saved[key])) patch[key] = value;
    }
    return patch;
  };

  const change = (key: keyof AgentSettings, raw: string | boolean): void => {
    setDraft({ ...draft, [key]: raw });
    setNotice(null);
    const problem = validateSettingsPatch({ [key]: draftValue(key, raw) })[0];
    setErrors((current) => ({ ...current, [key]: problem?.message }));
  };

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const patch = changedPatch();
    const problems = validateSettingsPatch(patch);
    if (problems.length > 0) {
      setErrors(Object.fromEntries(problems.map((p) => [p.field, p.message])));
      setNotice({ kind: 'error', text: 'Please correct the highlighted fields.' });
      return;
    }
    if (Object.keys(patch).length === 0) {
      setNotice({ kind: 'ok', text: 'Nothing changed.' });
      return;
    }
    setSaving(true);
    api
      .setSettings(patch as Partial<AgentSettings>)
      .then(
        (result) => {
          if (result.ok) {
            setSaved(result.settings);
            setDraft(toDraft(result.settings));
            setErrors({});
            setNotice({ kind: 'ok', text: 'Settings saved.' });
          } else {
            setErrors(Object.fromEntries(result.errors.map((p) => [p.field, p.message])));
            setNotice({ kind: 'error', text: 'The agent refused some values.' });
          }
        },
        (e: unknown) => setNotice({ kind: 'error', text: `Saving failed: ${errorMessage(e)}` }),
      )
      .finally(() => setSaving(false));
  };

  const dirty = Object.keys(changedPatch()).length > 0;
  const field = (spec: FieldSpec) => (
    <SettingField
      key={spec.key}
      spec={spec}
      draft={draft}
      error={errors[spec.key]}
      keepsSecret={spec.kind === 'password' && secretIsSet(saved, spec.key)}
      onChange={change}
    />
  );

  return (
    <form className="stack settings" onSubmit={submit} noValidate>
      {SETTINGS_GROUPS.map((group) => (
        <fieldset key={group.title} className="card">
          <legend>{group.title}</legend>
          {group.fields.map(field)}
        </fieldset>
      ))}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={saving || !dirty}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button
          type="button"
          disabled={saving || !dirty}
          onClick={() => {
            setDraft(toDraft(saved));
            setErrors({});
            setNotice(null);
          }}
        >
          Discard changes
        </button>
        {notice && (
          <span className={notice.kind === 'ok' ? 'notice-ok' : 'error'} role="status">
            {notice.text}
          </span>
        )}
      </div>
    </form>
  );
}
