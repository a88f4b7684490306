import { Card, Page } from '../../components';

// Lifecycle areas whose capabilities land in later releases. Each says what it will hold
// so the navigation already shows the whole lifecycle.
export const AREAS: Record<string, { title: string; what: string }> = {
  monitoring: { title: 'Monitoring', what: 'Availability, latency, data drift and model fit for every model in production.' },
  'governance-denied': { title: 'Governance', what: 'The platform audit log is visible to platform admins; project maintainers read their project\'s log with `kade audit list --project NAME`.' },
};

export function Area(props: { id: string }) {
  const a = AREAS[props.id];
  return (
    <Page title={a.title} subtitle={a.what}>
      <Card>
        <p class="muted">Not available yet in this release of Kade.</p>
      </Card>
    </Page>
  );
}
