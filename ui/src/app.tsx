import { useEffect, useState } from 'preact/hooks';
import { api, getToken, type Me, setToken } from './api';
import { Access } from './pages/access/Access';
import { AuditLog } from './pages/audit/AuditLog';
import { DataCatalog } from './pages/data/DataCatalog';
import { DatasetPage } from './pages/data/DatasetPage';
import { ComparePage } from './pages/experiments/ComparePage';
import { ExperimentList, ExperimentPage } from './pages/experiments/Experiments';
import { RunPage } from './pages/experiments/RunPage';
import { Area, AREAS } from './pages/areas/Area';
import { ProjectDetail } from './pages/projects/ProjectDetail';
import { ProjectList } from './pages/projects/ProjectList';
import { SignIn } from './pages/signin/SignIn';
import { JobPage, TrainingPage } from './pages/training/Training';
import { ModelList, ModelPage } from './pages/models/Models';
import { EndpointList, EndpointPage } from './pages/endpoints/Endpoints';
import { BatchPage } from './pages/batch/Batch';
import { ApiReference } from './pages/api/ApiReference';
import { EndpointMonitoring, FleetPage } from './pages/monitoring/Monitoring';
import { useRoute } from './router';

const NAV: { id: string; label: string; soon?: boolean }[] = [
  { id: 'projects', label: 'Projects' },
  { id: 'data', label: 'Data' },
  { id: 'experiments', label: 'Experiments' },
  { id: 'training', label: 'Training' },
  { id: 'models', label: 'Models' },
  { id: 'endpoints', label: 'Endpoints' },
  { id: 'batch', label: 'Batch' },
  { id: 'monitoring', label: 'Monitoring' },
  { id: 'governance', label: 'Governance' },
  { id: 'access', label: 'Access' },
  { id: 'api', label: 'API' },
];

export function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(!!getToken());
  const route = useRoute();

  useEffect(() => {
    if (!getToken()) return;
    api<Me>('GET', '/api/v1/whoami')
      .then(setMe)
      .catch(() => setToken(null))
      .finally(() => setChecking(false));
  }, []);

  if (checking) return null;
  if (!me) return <SignIn onSignedIn={setMe} />;

  const section = route[0] ?? 'projects';
  let content;
  if (section === 'experiments' && route[1] && route[2]) content = <ExperimentPage project={route[1]} id={route[2]} />;
  else if (section === 'experiments') content = <ExperimentList project={route[1]} />;
  else if (section === 'training' && route[1] && route[2]) content = <JobPage project={route[1]} id={route[2]} />;
  else if (section === 'training') content = <TrainingPage project={route[1]} />;
  else if (section === 'runs' && route[2]) content = <RunPage project={route[1]} id={route[2]} />;
  else if (section === 'compare' && route[2]) content = <ComparePage project={route[1]} ids={route[2].split(',')} />;
  else if (section === 'models' && route[1] && route[2]) content = <ModelPage project={route[1]} name={route[2]} />;
  else if (section === 'models') content = <ModelList project={route[1]} />;
  else if (section === 'endpoints' && route[1] && route[2]) content = <EndpointPage project={route[1]} name={route[2]} />;
  else if (section === 'endpoints') content = <EndpointList project={route[1]} />;
  else if (section === 'monitoring' && route[1] && route[2]) content = <EndpointMonitoring project={route[1]} name={route[2]} />;
  else if (section === 'monitoring') content = <FleetPage />;
  else if (section === 'batch') content = <BatchPage project={route[1]} />;
  else if (section === 'data' && route[1] && route[2]) content = <DatasetPage project={route[1]} name={route[2]} />;
  else if (section === 'data') content = <DataCatalog project={route[1]} />;
  else if (section === 'projects' && route[1]) content = <ProjectDetail name={route[1]} isAdmin={me.admin} />;
  else if (section === 'governance') {
    content = me.admin ? (
      <AuditLog />
    ) : (
      <Area id="governance-denied" />
    );
  } else if (section === 'access') content = <Access isAdmin={me.admin} />;
  else if (section === 'api') content = <ApiReference />;
  else if (AREAS[section]) content = <Area id={section} />;
  else content = <ProjectList />;

  return (
    <div class="shell">
      <aside class="nav">
        <div class="brand"><span class="logo" /> Kade</div>
        <nav>
          {NAV.map((n) => (
            <a href={`#/${n.id}`} class={section === n.id || (n.id === 'experiments' && (section === 'runs' || section === 'compare')) ? 'active' : ''}>
              {n.label}
              {n.soon && <span class="soon">soon</span>}
            </a>
          ))}
        </nav>
        <div class="nav-foot">v{me.version}</div>
      </aside>
      <div class="main">
        <header class="topbar">
          <span class="muted">Signed in as</span> <strong data-testid="whoami">{me.name}</strong>
          {me.admin && <span class="badge">admin</span>}
          <button
            class="link"
            onClick={() => {
              setToken(null);
              setMe(null);
            }}
          >
            Sign out
          </button>
        </header>
        {/* Keyed by the route: moving to another item of the same kind starts its page afresh,
            so no state of the previous item (data, previews, forms, timers) carries over. */}
        <main key={route.join('/')}>{content}</main>
      </div>
    </div>
  );
}
