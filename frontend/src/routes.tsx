/**
 * The router: the route table (routeTable.tsx) turned into react-router routes, inside the
 * layout, behind sign-in and permission checks. The top of the console's imports: nothing
 * imports it but main.tsx and the tests.
 */
import { Card, Skeleton } from 'antd';
import { Suspense } from 'react';
import { Navigate, type RouteObject } from 'react-router';

import { RequireAuth, RequirePermission } from './auth/RequireAuth';
import { AppLayout } from './layout/AppLayout';
import { ChangePasswordPage } from './pages/auth/ChangePasswordPage';
import { EnrollTwoFactorPage } from './pages/auth/EnrollTwoFactorPage';
import { LoginPage } from './pages/auth/LoginPage';
import { ComingSoonPage } from './pages/ComingSoonPage';
import { ForbiddenPage } from './pages/ForbiddenPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { RouteErrorPage } from './pages/RouteErrorPage';
import { CHANGE_PASSWORD_PATH, ENROLL_2FA_PATH, LOGIN_PATH, MY_WALLET_PATH } from './paths';
import { useCan } from './queries/me';
import { appRoutes, firstAllowedPath, type AppRoute } from './routeTable';

function PageLoading() {
  return (
    <Card className="kameng-card">
      <Skeleton active paragraph={{ rows: 8 }} />
    </Card>
  );
}

/** `/` → the first menu entry the user may use (or 我的余额 when there is none: customers). */
export function LandingRedirect() {
  const can = useCan();
  return <Navigate to={firstAllowedPath(appRoutes, can) ?? MY_WALLET_PATH} replace />;
}

/** A module's own path → its first sub-page the user may open; 403 when none. */
function ModuleRedirect({ route }: { route: AppRoute }) {
  const can = useCan();
  const first = firstAllowedPath(route.children ?? [], can);
  const needed = route.children?.[0]?.permission ?? '';
  return first ? <Navigate to={first} replace /> : <ForbiddenPage permission={needed} />;
}

function toRouteObjects(routes: AppRoute[]): RouteObject[] {
  return routes.flatMap((route): RouteObject[] => {
    if (route.children && route.children.length > 0) {
      return [{ path: route.path, element: <ModuleRedirect route={route} /> }, ...toRouteObjects(route.children)];
    }
    const Page = route.Page;
    return [
      {
        path: route.path,
        element: (
          <RequirePermission permission={route.permission}>
            <Suspense fallback={<PageLoading />}>{Page ? <Page /> : <ComingSoonPage module={route.key} />}</Suspense>
          </RequirePermission>
        ),
      },
    ];
  });
}

export function buildRoutes(): RouteObject[] {
  return [
    { path: LOGIN_PATH, element: <LoginPage />, errorElement: <RouteErrorPage /> },
    {
      element: <RequireAuth />,
      errorElement: <RouteErrorPage />,
      children: [
        { path: CHANGE_PASSWORD_PATH, element: <ChangePasswordPage /> },
        { path: ENROLL_2FA_PATH, element: <EnrollTwoFactorPage /> },
        {
          path: '/',
          element: <AppLayout />,
          children: [
            { index: true, element: <LandingRedirect /> },
            ...toRouteObjects(appRoutes),
            { path: '*', element: <NotFoundPage /> },
          ],
        },
      ],
    },
  ];
}
