-- int_customer_lir_months
-- Grain: customer account x calendar month in which the customer met the leading indicator of retention
-- (LIR, seeds/001: "P % of customers achieve event E every T time"). Only months that were met appear.
-- Reading (tests/fixtures/golden/INTERPRETATIONS.md R6):
--   * E = var lir_event, N = var lir_min_events, T = var lir_window_days (days)
--   * a month is tiled from its first day by T-day windows: window i covers days i*T + 1 .. (i + 1)*T.
--     Only complete windows count, i.e. windows ending on or before the month's evaluation day (its last
--     day, or run_date in run_date's month). A trailing partial window is ignored.
--   * the customer meets the LIR in the month when every complete window holds at least N events E
--     (OccurredAt in UTC). A month without a complete window yet is never met here: retention_cohorts
--     and scaling_readiness show NULL for such a month.
-- Empty when there is no usage data (usage_events is optional).
WITH lir_events AS (
    SELECT
        usage_event.account_id,
        CAST(date_trunc('month', usage_event.occurred_at) AS DATE)    AS lir_month,
        CAST(date_part('day', usage_event.occurred_at) AS BIGINT)     AS day_of_month
    FROM stg_usage_events AS usage_event
    JOIN int_customers AS customers
        ON customers.account_id = usage_event.account_id
    WHERE usage_event.event_name = {{ var('lir_event') }}
      AND usage_event.occurred_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
),

events_per_window AS (
    SELECT
        account_id,
        lir_month,
        (day_of_month - 1) / {{ var('lir_window_days') }}  AS window_index,
        count(*)                                            AS events
    FROM lir_events
    GROUP BY account_id, lir_month, (day_of_month - 1) / {{ var('lir_window_days') }}
),

complete_windows AS (
    SELECT
        account_id,
        lir_month,
        window_index,
        events,
        -- number of whole T-day windows between the month's first day and its evaluation day
        CAST(date_part('day', least(
            CAST(lir_month + INTERVAL '1 month' - INTERVAL '1 day' AS DATE),
            {{ run_date }}
        )) AS BIGINT) / {{ var('lir_window_days') }} AS windows_required
    FROM events_per_window
),

windows_met AS (
    SELECT
        account_id,
        lir_month,
        windows_required,
        count(*) AS windows_met
    FROM complete_windows
    WHERE events >= {{ var('lir_min_events') }}
      AND window_index < windows_required
    GROUP BY account_id, lir_month, windows_required
)

SELECT
    account_id,
    lir_month
FROM windows_met
WHERE windows_required > 0
  AND windows_met = windows_required
