import '@ant-design/v5-patch-for-react-19';
import './i18n';
import './styles.css';

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter } from 'react-router';

import { AppRoot } from './App';
import { createQueryClient } from './queryClient';
import { buildRoutes } from './routes';

const router = createBrowserRouter(buildRoutes());
const queryClient = createQueryClient();

const container = document.getElementById('root');
if (!container) throw new Error('index.html has no #root element');

createRoot(container).render(
  <StrictMode>
    <AppRoot router={router} queryClient={queryClient} />
  </StrictMode>,
);
