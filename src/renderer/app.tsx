import { useEffect, useState } from 'react';
import type { AgentActivity } from '../contract/ui-contract';
import { useAgentStatus } from './hooks/use-agent-status';
import { JobsView } from './views/jobs-view';
import { LogView } from './views/log-view';
import { SettingsView } from './views/settings-view';
import { StatusView } from './views/status-view';
import { FirstRunView } from './views/first-run-view';
import { ProjectsView } from './views/projects-view';

/** An attach link handed over in the address (`#attach=<encoded link>`: the copilot:// handler). */
function linkFromAddress(): string {
  const match = /(?:^#|&)attach=([^&]+)/.exec(window.location.hash);
  if (!match?.[1]) return '';
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return '';
  }
}

type Tab = 'status' | 'projects' | 'jobs' | 'log' | 'settings';
const TABS: Array<{ id: Tab; label: string }> = [
  { id: 'status', label: 'Status' },
  { id: 'projects', label: 'Projects' },
  { id: 'jobs', label: 'Contributed jobs' },
  { id: 'log', label: 'Event log' },
  { id: 'settings', label: 'Settings' },
];

const ACTIVITY_TONE: Record<AgentActivity, string> = {
  running: 'ok',
  'waiting-for-work': 'idle',
  'waiting-for-idle': 'idle',
  paused: 'warn',
  'paused-by-rule': 'warn',
  stopped: 'warn',
  'docker-unavailable': 'bad',
  'not-connected': 'bad',
};

export function App() {
  const [tab, setTab] = useState<Tab>('status');
  const statusState = useAgentStatus();
  const { status } = statusState;
  const [handedLink] = useState(linkFromAddress);
  const [manualSetup, setManualSetup] = useState(false);
  const [attachClosed, setAttachClosed] = useState(false);
  // "Add a project" (the Projects tab): the attach screen over the app until joined or cancelled.
  const [adding, setAdding] = useState(false);
  const current = TABS.find((t) => t.id === tab) ?? TABS[0];
  const statusLine = status?.statusLine;
  useEffect(() => {
    document.title = statusLine ? `${statusLine} · Co-Pilot Desktop` : 'Co-Pilot Desktop';
  }, [statusLine]);
  // No project yet (or a link handed over): the first-run screen instead of the app.
  const unattached = status?.connection === 'not-configured' && !manualSetup;
  if (status && (unattached || adding || (handedLink !== '' && !attachClosed))) {
    const back = (): void => {
      setAttachClosed(true);
      setAdding(false);
    };
    return (
      <FirstRunView
        initialLink={adding ? '' : handedLink}
        onManualSetup={
          unattached
            ? () => {
                setManualSetup(true);
                setTab('settings');
              }
            : undefined
        }
        onCancel={unattached ? undefined : back}
        onJoined={() => {
          back();
          if (adding) setTab('projects');
        }}
        docker={status.docker}
      />
    );
  }
  return (
    <div className="app">
      <nav className="sidebar" aria-label="Views">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span>Co-Pilot Desktop</span>
        </div>
        <ul>
          {TABS.map((t) => (
            <li key={t.id}>
              <button
                className="nav-item"
                aria-current={t.id === tab ? 'page' : undefined}
                onClick={() => setTab(t.id)}
              >
                {t.label}
              </button>
            </li>
          ))}
        </ul>
        <div className="sidebar-status" aria-live="polite">
          {status && (
            <>
              <span className={`dot dot-${ACTIVITY_TONE[status.activity]}`} />
              <span>{status.statusLine}</span>
            </>
          )}
        </div>
      </nav>
      <main className="content">
        <h1>{current?.label}</h1>
        {tab === 'status' && (
          <StatusView state={statusState} onOpenSettings={() => setTab('settings')} />
        )}
        {tab === 'projects' && <ProjectsView status={status} onAdd={() => setAdding(true)} />}
        {tab === 'jobs' && (
          <JobsView running={status?.running ?? []} receivedAt={statusState.receivedAt} />
        )}
        {tab === 'log' && <LogView />}
        {tab === 'settings' && <SettingsView />}
      </main>
    </div>
  );
}
