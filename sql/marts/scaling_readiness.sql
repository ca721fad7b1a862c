-- scaling_readiness
-- Grain: one row per month of unit_economics_monthly (its channel = 'ALL' rows): the "are we ready to
-- scale" scorecard of seeds/001 (product-market fit, then go-to-market fit, then growth and moat).
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md Z1-Z3):
--   * renewal_rate_12m, ltv_to_cac, payback_months, magic_number: the month's ALL row
--   * lir_rate: the LIR rate of the latest month complete at the month's evaluation day: the month itself
--     when it ended on or before run_date, else (run_date's month) the month before. Over all customers
--     = customers acquired by the end of that month. NULL without usage data.
--   * a target holds only when its metric is not NULL and meets it. Retention holds when
--     renewal_rate_12m >= var renewal_rate_target and, when lir_rate is present, lir_rate >= var
--     lir_target too (the leading indicator does not excuse a missed lagging one).
--   * phase: pursuing_product_market_fit while retention does not hold, pursuing_go_to_market_fit while
--     any of ltv_to_cac / payback_months / magic_number misses its target, else growth_and_moat
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

usage_presence AS (
    SELECT count(*) > 0 AS has_usage_data FROM stg_usage_events
),

scorecard AS (
    SELECT
        company_months.*,
        CASE WHEN usage_presence.has_usage_data
              -- the LIR month holds at least one whole window
              AND CAST(date_part('day', CAST(company_months.lir_month + INTERVAL '1 month' - INTERVAL '1 day'
                                             AS DATE)) AS BIGINT) >= {{ var('lir_window_days') }}
             THEN CAST(customers_by_lir_month.lir_customers AS DOUBLE)
                  / NULLIF(customers_by_lir_month.customers, 0)
        END AS lir_rate
    FROM company_months
    CROSS JOIN usage_presence
    LEFT JOIN customers_by_lir_month
        ON customers_by_lir_month.lir_month = company_months.lir_month
),

targets AS (
    SELECT
        scorecard.*,
        coalesce(renewal_rate_12m >= {{ var('renewal_rate_target') }}, FALSE)
            AND (lir_rate IS NULL OR lir_rate >= {{ var('lir_target') }})       AS retention_holds,
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
        WHEN NOT retention_holds THEN 'pursuing_product_market_fit'
        WHEN NOT unit_economics_hold THEN 'pursuing_go_to_market_fit'
        ELSE 'growth_and_moat'
    END AS phase
FROM targets
ORDER BY month
