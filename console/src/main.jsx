// idv's web console: sign-in with an API key, then a dashboard, record search with inclusion
// proofs checked in the page, export, integrity, and (administrators) backends and policies.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, currentSession, signIn, signOut } from './api.js';
import { language, setLanguage, t } from './i18n.js';
import { Dashboard } from './dashboard.jsx';
import { Records } from './records.jsx';
import { Integrity } from './integrity.jsx';
import { Backends } from './backends.jsx';
import './style.css';

const PAGES = [
  ['dashboard', Dashboard],
  ['records', Records],
  ['integrity', Integrity],
  ['backends', Backends],
];

function SignIn({ onSignedIn, notice }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(notice || '');
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      onSignedIn(await signIn(key.trim()));
    } catch (err) {
      setError(err.message);
    } finally {
      setKey('');
      setBusy(false);
    }
  }
  return (
    <main id="content" class="signin">
      <h1>{t('title')}</h1>
      <form onSubmit={submit} aria-describedby="key-help">
        <label for="api-key">{t('apiKey')}</label>
        <input id="api-key" name="api-key" type="password" autocomplete="off" required
          value={key} onInput={(e) => setKey(e.target.value)} />
        <p id="key-help" class="help">{t('apiKeyHelp')}</p>
        <button type="submit" disabled={busy}>{t('signIn')}</button>
        {error && <p role="alert" class="error">{error}</p>}
      </form>
    </main>
  );
}

function App() {
  const [session, setSession] = useState(undefined);
  const [page, setPage] = useState('dashboard');
  const [, setLang] = useState(language());
  const [notice, setNotice] = useState('');

  useEffect(() => {
    currentSession().then(setSession, () => setSession(null));
  }, []);
  useEffect(() => {
    // An API error 401 anywhere means the session ended: back to sign-in.
    const onError = (e) => {
      if (e.reason instanceof ApiError && e.reason.status === 401) {
        setNotice(t('expired'));
        setSession(null);
      }
    };
    window.addEventListener('unhandledrejection', onError);
    return () => window.removeEventListener('unhandledrejection', onError);
  }, []);

  function toggleLanguage() {
    const next = language() === 'en' ? 'zh' : 'en';
    setLanguage(next);
    setLang(next);
  }

  const langButton = (
    <button type="button" class="link" onClick={toggleLanguage} lang={language() === 'en' ? 'zh' : 'en'}>
      {t('language')}
    </button>
  );
  if (session === undefined) return <p class="loading">{t('loading')}</p>;
  if (session === null) {
    return (
      <>
        <header class="bar"><span class="brand">{t('title')}</span>{langButton}</header>
        <SignIn notice={notice} onSignedIn={(s) => { setNotice(''); setSession(s); }} />
      </>
    );
  }
  const Page = PAGES.find(([name]) => name === page)[1];
  return (
    <>
      <a class="skip" href="#content">{t('skip')}</a>
      <header class="bar">
        <span class="brand">{t('title')}</span>
        <nav aria-label="main">
          {PAGES.map(([name]) => (
            <button type="button" key={name} aria-current={page === name ? 'page' : undefined}
              onClick={() => setPage(name)}>{t(name)}</button>
          ))}
        </nav>
        <span class="who" data-testid="who">
          {t('signedInAs')} <strong>{session.client_id}</strong> ({t('tenant')} {session.tenant};{' '}
          {t('roles')} {session.roles.join(', ')})
        </span>
        {langButton}
        <button type="button" onClick={async () => { await signOut(); setSession(null); }}>
          {t('signOut')}
        </button>
      </header>
      <main id="content" tabindex="-1">
        <Page session={session} />
      </main>
    </>
  );
}

setLanguage(language());
render(<App />, document.getElementById('app'));
