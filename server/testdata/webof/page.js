// page.js is the page of server's browser test TestBrowserWebSDK: an app
// on its own origin that evaluates Flagon flags through OpenFeature's web
// SDK and OFREP web provider, as a site would. The query string says
// where Flagon is and what to show:
//
//	ofrep  Flagon's base URL (another origin)
//	key    the OFREP API key, sent as a bearer token
//	user   the evaluation context's targetingKey
//	plan   the context's "plan" attribute
//	flags  the flags to show, comma-separated, each key:type, the type
//	       boolean, string or number
//	poll   the provider's poll interval in milliseconds
//
// Each flag is shown in an element #flag-KEY, with data-value,
// data-variant and data-reason; CONFIGURATION_CHANGED events are counted
// on body[data-changes] and the last one's flags listed in #changed.
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const q = new URLSearchParams(location.search);
const flags = (q.get('flags') || '').split(',').filter(Boolean).map((f) => f.split(':'));
const list = document.getElementById('flags');
const changed = document.getElementById('changed');
let changes = 0;

const client = OpenFeature.getClient();

function render() {
  for (const [key, type] of flags) {
    let el = document.getElementById('flag-' + key);
    if (!el) {
      el = document.createElement('li');
      el.id = 'flag-' + key;
      list.appendChild(el);
    }
    const d = type === 'boolean' ? client.getBooleanDetails(key, false)
      : type === 'number' ? client.getNumberDetails(key, 0)
      : client.getStringDetails(key, '');
    const value = String(d.value);
    el.dataset.value = value;
    el.dataset.variant = d.variant || '';
    el.dataset.reason = d.reason || '';
    el.dataset.error = d.errorCode || '';
    el.textContent = key + ': ' + value + ' (' + (d.variant || '-') + ', ' + d.reason + ')';
  }
}

client.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
  changes++;
  document.body.dataset.changes = String(changes);
  changed.textContent = ((details && details.flagsChanged) || []).slice().sort().join(',');
  render();
});

async function start() {
  const provider = new OFREPWebProvider({
    baseUrl: q.get('ofrep'),
    headers: [['Authorization', 'Bearer ' + q.get('key')]],
    pollInterval: Number(q.get('poll') || 500),
    cacheMode: 'disabled',
  });
  await OpenFeature.setContext({ targetingKey: q.get('user'), plan: q.get('plan') || '' });
  await OpenFeature.setProviderAndWait(provider);
  render();
  document.body.dataset.ready = 'yes';
}

start().catch((err) => {
  document.body.dataset.ready = 'error';
  document.getElementById('error').textContent = String(err);
});
