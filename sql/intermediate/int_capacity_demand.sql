-- int_capacity_demand
-- Grain: unit of work x product type: the expected units per week over the planning horizon, i.e. the
-- average over the trailing var trailing_weeks (4) weeks before run_date.
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md K1):
--   * trailing window = the trailing_weeks x 7 days before run_date, run_date itself excluded:
--     timestamps in [run_date - 28 days, run_date), CloseDate from run_date - 28 to run_date - 1
--   * per_mql / per_sql: leads whose MQL_Date__c / SQL_Date__c falls in the window (product_type NULL)
--   * per_opportunity: opportunities (all Types) created in the window, one row per Product_Type__c
--   * per_won_deal: won opportunities (all Types) with CloseDate in the window, one row per Product_Type__c
--   * per_customer_month: active customers at run_date (a stock, not an average): customers as
--     METRICS.md defines them (int_customers: accounts with a won New Business opportunity) with a
--     contract window containing run_date, divided by var weeks_per_month (4.33) to turn a monthly
--     activity into a weekly one. An account with only renewals (its New Business deal predates the
--     export) is not a customer here, as in retention_cohorts and unit_economics_monthly.
WITH trailing_window AS (
    SELECT
        CAST({{ run_date }} AS TIMESTAMP)
            - CAST(({{ var('trailing_weeks') }} * 7) || ' days' AS INTERVAL)  AS window_start_at,
        CAST({{ run_date }} AS TIMESTAMP)                                   AS window_end_at,
        CAST({{ run_date }} - CAST(({{ var('trailing_weeks') }} * 7) || ' days' AS INTERVAL) AS DATE)
                                                                            AS window_start_date
),

trailing_mqls AS (
    SELECT count(*) AS units
    FROM int_lead_funnel
    CROSS JOIN trailing_window
    WHERE mql_at >= window_start_at
      AND mql_at < window_end_at
),

trailing_sqls AS (
    SELECT count(*) AS units
    FROM int_lead_funnel
    CROSS JOIN trailing_window
    WHERE sql_at >= window_start_at
      AND sql_at < window_end_at
),

trailing_opportunities AS (
    SELECT product_type, count(*) AS units
    FROM int_opportunities
    CROSS JOIN trailing_window
    WHERE created_at >= window_start_at
      AND created_at < window_end_at
    GROUP BY product_type
),

trailing_won_deals AS (
    SELECT product_type, count(*) AS units
    FROM int_opportunities
    CROSS JOIN trailing_window
    WHERE is_won_as_of
      AND close_date >= window_start_date
      AND close_date < {{ run_date }}
    GROUP BY product_type
),

active_customers AS (
    SELECT count(DISTINCT contracts.account_id) AS units
    FROM int_contracts AS contracts
    JOIN int_customers AS customers
        ON customers.account_id = contracts.account_id
    WHERE contracts.contract_start_date <= {{ run_date }}
      AND contracts.contract_end_date >= {{ run_date }}
)

SELECT
    'per_mql'                                               AS unit,
    arrow_cast(NULL, 'Utf8')                                AS product_type,
    CAST(units AS DOUBLE) / {{ var('trailing_weeks') }}     AS units_per_week
FROM trailing_mqls
UNION ALL
SELECT 'per_sql', arrow_cast(NULL, 'Utf8'), CAST(units AS DOUBLE) / {{ var('trailing_weeks') }}
FROM trailing_sqls
UNION ALL
SELECT 'per_opportunity', product_type, CAST(units AS DOUBLE) / {{ var('trailing_weeks') }}
FROM trailing_opportunities
UNION ALL
SELECT 'per_won_deal', product_type, CAST(units AS DOUBLE) / {{ var('trailing_weeks') }}
FROM trailing_won_deals
UNION ALL
SELECT 'per_customer_month', arrow_cast(NULL, 'Utf8'), CAST(units AS DOUBLE) / {{ var('weeks_per_month') }}
FROM active_customers
