import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { App as AntApp, ConfigProvider, type ThemeConfig } from 'antd';
// the ES modules: `antd/locale/*` is CommonJS, and in the production bundle its DatePicker
// texts were lost (range pickers showed English placeholders in the Chinese UI)
import enUS from 'antd/es/locale/en_US';
import zhCN from 'antd/es/locale/zh_CN';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { useTranslation } from 'react-i18next';
import { RouterProvider, type createBrowserRouter } from 'react-router';

import { ApiErrorMessages } from './ApiErrorMessages';
import { SessionSync } from './auth/SessionSync';
import './auth/stepUp';

export type AppRouter = ReturnType<typeof createBrowserRouter>;

const theme: ThemeConfig = {
  token: {
    colorPrimary: '#1677ff',
    borderRadius: 6,
    fontFamily:
      "-apple-system, BlinkMacSystemFont, 'Segoe UI', 'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', 'Helvetica Neue', Arial, sans-serif",
  },
  components: {
    Layout: {
      headerBg: '#001529',
      headerHeight: 56,
      headerPadding: '0 24px',
      siderBg: '#ffffff',
      triggerBg: '#ffffff',
      triggerColor: 'rgba(0, 0, 0, 0.65)',
      bodyBg: '#f0f2f5',
      footerBg: 'transparent',
    },
  },
};

/** Providers around the router: antd (theme + locale), TanStack Query, error messages. */
export function AppRoot({ router, queryClient }: { router: AppRouter; queryClient: QueryClient }) {
  const { i18n } = useTranslation();
  const chinese = i18n.resolvedLanguage !== 'en';
  dayjs.locale(chinese ? 'zh-cn' : 'en');

  return (
    <ConfigProvider locale={chinese ? zhCN : enUS} theme={theme}>
      <AntApp>
        <QueryClientProvider client={queryClient}>
          <ApiErrorMessages />
          <SessionSync />
          <RouterProvider router={router} />
        </QueryClientProvider>
      </AntApp>
    </ConfigProvider>
  );
}
