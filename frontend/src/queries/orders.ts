import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import type { AdminOrderOut, OrderIn, OrderOut } from '../client';
import {
  ordersConfirmPaidMutation,
  ordersCreateMutation,
  ordersDeliverMutation,
  ordersGetMineOptions,
  ordersGetMineQueryKey,
  ordersGetOptions,
  ordersGetQueryKey,
  ordersListInfiniteOptions,
  ordersListMineInfiniteOptions,
  ordersListMineQueryKey,
  ordersListQueryKey,
  ordersRedeliverMutation,
  ordersRefundMutation,
  ordersResendMutation,
} from '../client/@tanstack/react-query.gen';
import { cursorPages, mutationWith } from './common';
import { invalidateWallet } from './wallet';

export type OrderStatus = OrderOut['status'];
export type PayMethod = NonNullable<OrderIn['pay_method']>;

export const ORDER_STATUSES: readonly OrderStatus[] = [
  'pending_payment',
  'paid',
  'delivering',
  'delivered',
  'partially_delivered',
  'failed',
  'refunded',
  'expired',
];

/** The console's order filters (all optional; times are ISO 8601). */
export interface AdminOrderFilters {
  status?: OrderStatus;
  product_id?: number;
  buyer_id?: number;
  order_no?: string;
  created_from?: string;
  created_to?: string;
}

export const MY_ORDERS_PAGE = 20;
export const ADMIN_ORDERS_PAGE = 50;
/** How often an order being delivered is asked again. */
export const DELIVERY_POLL_MS = 2_000;
/** ... an order waiting for payment (the buyer may be paying in another tab). */
export const PAYMENT_POLL_MS = 5_000;
/** ... a paid order waiting for stock or for staff to deliver it by hand (that takes a while). */
export const SLOW_POLL_MS = 15_000;

/** How soon to ask about an order again, by its state; false: it will not change by itself. */
export function orderPollInterval(order: Pick<OrderOut, 'status' | 'awaiting_stock' | 'delivery_type'> | undefined): number | false {
  if (!order) return false;
  if (order.status === 'paid' && order.awaiting_stock) return SLOW_POLL_MS;
  if (order.status === 'delivering' && order.delivery_type === 'manual') return SLOW_POLL_MS;
  if (order.status === 'paid' || order.status === 'delivering') return DELIVERY_POLL_MS;
  if (order.status === 'pending_payment') return PAYMENT_POLL_MS;
  return false;
}

/** `orders:list_mine` — the buyer's orders, newest first, "load more" with `before`. */
export function useMyOrders(status: OrderStatus | undefined) {
  return useInfiniteQuery({
    ...cursorPages(ordersListMineInfiniteOptions, { query: { status, limit: MY_ORDERS_PAGE } }, (last) => last.next_before),
    placeholderData: keepPreviousData,
  });
}

/** `orders:get_mine` — one of the buyer's orders with its keys; asked again every 2 s while it is
 * being delivered (and now and then while it waits for payment or stock). */
export function useMyOrder(orderNo: string) {
  return useQuery({
    ...ordersGetMineOptions({ path: { order_no: orderNo } }),
    refetchInterval: (query) => orderPollInterval(query.state.data),
    staleTime: 0,
  });
}

/**
 * `orders:create` — buy. `idempotencyKey` is one per purchase attempt: sending the same attempt
 * again (after a lost answer) gets the first answer instead of a second order. The page shows
 * refusals (sold_out, insufficient_balance, bad_buyer_input …) itself.
 */
export function useCreateOrder() {
  const queryClient = useQueryClient();
  return useMutation({
    ...mutationWith(ordersCreateMutation(), ({ body, idempotencyKey }: { body: OrderIn; idempotencyKey: string }) => ({
      body,
      headers: { 'idempotency-key': idempotencyKey },
    })),
    meta: { silentError: true },
    onSuccess: (order) => {
      queryClient.setQueryData(ordersGetMineQueryKey({ path: { order_no: order.order_no } }), order);
      void queryClient.invalidateQueries({ queryKey: ordersListMineQueryKey() });
      void invalidateWallet(queryClient);
    },
  });
}

/** `orders:list` — every order, newest first, filtered; "load more" with `before`. */
export function useAdminOrders(filters: AdminOrderFilters) {
  return useInfiniteQuery({
    ...cursorPages(ordersListInfiniteOptions, { query: { ...filters, limit: ADMIN_ORDERS_PAGE } }, (last) => last.next_before),
    placeholderData: keepPreviousData,
  });
}

/** `orders:get` — one order with its timeline (console; keys stay masked). */
export function useAdminOrder(orderNo: string) {
  return useQuery({
    ...ordersGetOptions({ path: { order_no: orderNo } }),
    refetchInterval: (query) => {
      const interval = orderPollInterval(query.state.data);
      return interval === false ? false : Math.max(interval, PAYMENT_POLL_MS);
    },
    staleTime: 0,
  });
}

/** After a staff action: the answer is the order as it is now; lists and balances moved too. */
function useApplyAdminOrder() {
  const queryClient = useQueryClient();
  return (order: AdminOrderOut) => {
    queryClient.setQueryData(ordersGetQueryKey({ path: { order_no: order.order_no } }), order);
    void queryClient.invalidateQueries({ queryKey: ordersListQueryKey() });
    void invalidateWallet(queryClient);
  };
}

/** `orders:refund` — sensitive: a 403 step_up_required opens the 2FA dialog and the request is
 * sent again by the API layer. `amount` empty: everything not refunded yet. */
export function useRefundOrder() {
  const apply = useApplyAdminOrder();
  return useMutation({
    ...mutationWith(ordersRefundMutation(), ({ orderNo, amount, reason }: { orderNo: string; amount: string | null; reason: string }) => ({
      path: { order_no: orderNo },
      body: amount === null ? { reason } : { amount, reason },
    })),
    meta: { silentError: true },
    onSuccess: apply,
  });
}

/** `orders:confirm_paid` — 手动确认收款 (sensitive, step-up). */
export function useConfirmPaid() {
  const apply = useApplyAdminOrder();
  return useMutation({
    ...mutationWith(ordersConfirmPaidMutation(), ({ orderNo, reason }: { orderNo: string; reason: string }) => ({
      path: { order_no: orderNo },
      body: { reason },
    })),
    meta: { silentError: true },
    onSuccess: apply,
  });
}

/** `orders:redeliver` — 补发 more keys from stock. */
export function useRedeliver() {
  const apply = useApplyAdminOrder();
  return useMutation({
    ...mutationWith(ordersRedeliverMutation(), ({ orderNo, quantity, reason }: { orderNo: string; quantity: number; reason: string }) => ({
      path: { order_no: orderNo },
      body: { quantity, reason },
    })),
    meta: { silentError: true },
    onSuccess: apply,
  });
}

/** `orders:deliver` — 人工发货: the content the buyer gets for a manual order (stored encrypted). */
export function useDeliverManually() {
  const apply = useApplyAdminOrder();
  return useMutation({
    ...mutationWith(ordersDeliverMutation(), ({ orderNo, content, note }: { orderNo: string; content: string; note: string }) => ({
      path: { order_no: orderNo },
      body: { content, note },
    })),
    meta: { silentError: true },
    onSuccess: apply,
  });
}

/** `orders:resend` — 重发通知: mail the buyer the delivery (or refund) notice again. */
export function useResendNotice() {
  const apply = useApplyAdminOrder();
  return useMutation({
    ...mutationWith(ordersResendMutation(), (orderNo: string) => ({ path: { order_no: orderNo } })),
    meta: { silentError: true },
    onSuccess: apply,
  });
}
