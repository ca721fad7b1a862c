-- scaling_readiness
-- Grain: one row per month of unit_economics_monthly (its channel = 'ALL' rows): the "are we ready to
-- scale" scorecard of seeds/001 (product-market fit, then go-to-market fit, then growth and moat).
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md Z1-Z3):
--   * renewal_rate_12m, ltv_to_cac, payback_months, magic_number: the month's ALL row
--   * lir_rate: the LIR rate of the latest month complete at the month's evaluation day: the month itself
--     when it ended on or before run_date, else (run_date's month) the month before. Over all customers
--     = customers acquired by the end of that month. NULL without usage data, and NULL for a LIR month
--     the usage data does not cover: one that starts before the day of the earliest usage event (as
--     of run_date). Usage tracking that began mid-August says nothing about the first weeks of
--     August, so August has no LIR rather than a rate of 0.
--   * a target holds only when its metric is not NULL and meets it. The product-market-fit test
--     ("retention (or LIR, when present)"): when the month has a lir_rate, lir_rate >= var lir_target,
--     which replaces the retention target (the LIR is the leading indicator of retention, seeds/001);
--     without one, renewal_rate_12m >= var renewal_rate_target.
--   * phase: pursuing_product_market_fit while that test fails, pursuing_go_to_market_fit while it
--     holds but any of ltv_to_cac / payback_months / magic_number misses its target, else
--     growth_and_moat
WITH company_months AS (
    SELECT
        month,
        renewal_rate_12m,
        ltv_to_cac,
        payback_months,
        magic_number,
        CASE
            WHEN CAST(month + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) <= {{ run_date }} THEN month
            ELSE CAST(month - INTERVAL '1 month' AS DATE)
        END AS lir_month
    FROM unit_economics_monthly
    WHERE channel = 'ALL'
),

lir_months AS (
    SELECT DISTINCT lir_month FROM company_months
),

customers_by_lir_month AS (
    SELECT
        lir_months.lir_month,
        count(customers.account_id)     AS customers,
        count(met.account_id)           AS lir_customers
    FROM lir_months
    JOIN int_customers AS customers
        ON customers.acquisition_month <= lir_months.lir_month
    LEFT JOIN int_customer_lir_months AS met
        ON met.account_id = customers.account_id
       AND met.lir_month = lir_months.lir_month
    GROUP BY lir_months.lir_month
),

usage_coverage AS (
    -- the first day the usage data covers (NULL without usage data as of run_date)
    SELECT min(occurred_date) AS usage_data_from
    FROM stg_usage_events
    WHERE occurred_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
),

scorecard AS (
    SELECT
        company_months.*,
        CASE WHEN company_months.lir_month >= usage_coverage.usage_data_from
              -- the LIR month holds at least one whole window
              AND CAST(date_part('day', CAST(company_months.lir_month + INTERVAL '1 month' - INTERVAL '1 day'
                                             AS DATE)) AS BIGINT) >= {{ var('lir_window_days') }}
             THEN CAST(customers_by_lir_month.lir_customers AS DOUBLE)
                  / NULLIF(customers_by_lir_month.customers, 0)
        END AS lir_rate
    FROM company_months
    CROSS JOIN usage_coverage
    LEFT JOIN customers_by_lir_month
        ON customers_by_lir_month.lir_month = company_months.lir_month
),

targets AS (
    SELECT
        scorecard.*,
        CASE
            WHEN lir_rate IS NOT NULL THEN lir_rate >= {{ var('lir_target') }}
            ELSE coalesce(renewal_rate_12m >= {{ var('renewal_rate_target') }}, FALSE)
        END                                                                     AS product_market_fit_holds,
        coalesce(ltv_to_cac >= {{ var('ltv_to_cac_target') }}, FALSE)
            AND coalesce(payback_months <= {{ var('payback_months_target') }}, FALSE)
            AND coalesce(magic_number >= {{ var('magic_number_target') }}, FALSE) AS unit_economics_hold
    FROM scorecard
)

SELECT
    month,
    renewal_rate_12m,
    lir_rate,
    ltv_to_cac,
    payback_months,
    magic_number,
    CASE
        WHEN NOT product_market_fit_holds THEN 'pursuing_product_market_fit'
        WHEN NOT unit_economics_hold THEN 'pursuing_go_to_market_fit'
        ELSE 'growth_and_moat'
    END AS phase
FROM targets
ORDER BY month
