-- retention_cohorts
-- Grain: acquisition_month x months_since_acquisition (0 .. min(var retention_months, whole months from
-- the acquisition month to the run_date month)). One row = one acquisition cohort of customers
-- (int_customers) seen on the evaluation day of its k-th month.
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md R1-R6):
--   * evaluation day of month k = its last day, except in run_date's month (not over yet): run_date
--   * active: a contract (int_contracts: won as of run_date, any Type) whose window
--     [Contract_Start__c, Contract_End__c] contains the evaluation day
--   * eligible: at least one of the customer's contracts has Contract_End__c <= the evaluation day
--     (seeds/004: churn is only counted where it could happen), retained = eligible and active
--   * arr / starting_arr / seats sum Amount / Seats__c of the active contracts of ALL cohort customers
--     (not only eligible ones) at month k / month 0. gross_revenue_retention caps each customer at its
--     own month-0 ARR. Revenue and seat ratios are NULL when the month-0 value is 0.
--   * lir_customers: cohort customers meeting the LIR in month k (int_customer_lir_months). NULL, with
--     lir_rate, when usage_events holds no rows (as of run_date), when month k starts before the day of
--     the earliest usage event (the usage data does not cover it: no data is not "did not use"), or
--     when month k has no complete LIR window yet.
WITH cohort_sizes AS (
    SELECT
        acquisition_month,
        count(*) AS cohort_customers,
        CAST(date_part('year', {{ run_date }}) * 12 + date_part('month', {{ run_date }})
             - (date_part('year', acquisition_month) * 12 + date_part('month', acquisition_month)) AS BIGINT)
            AS months_to_run_date
    FROM int_customers
    GROUP BY acquisition_month
),

month_offsets AS (
    SELECT unnest(generate_series(0, {{ var('retention_months') }})) AS months_since_acquisition
),

cohort_months AS (
    SELECT
        cohort_sizes.acquisition_month,
        cohort_sizes.cohort_customers,
        month_offsets.months_since_acquisition,
        CAST(cohort_sizes.acquisition_month
             + CAST(month_offsets.months_since_acquisition || ' months' AS INTERVAL) AS DATE)
            AS month_start
    FROM cohort_sizes
    JOIN month_offsets
        ON month_offsets.months_since_acquisition <= cohort_sizes.months_to_run_date
),

cohort_evaluation_days AS (
    SELECT
        cohort_months.*,
        least(CAST(month_start + INTERVAL '1 month' - INTERVAL '1 day' AS DATE), {{ run_date }})
            AS evaluation_day
    FROM cohort_months
),

customer_months AS (
    SELECT
        customers.account_id,
        evaluation.acquisition_month,
        evaluation.months_since_acquisition,
        evaluation.month_start,
        evaluation.evaluation_day
    FROM int_customers AS customers
    JOIN cohort_evaluation_days AS evaluation
        ON evaluation.acquisition_month = customers.acquisition_month
),

customer_contract_days AS (
    SELECT
        customer_months.account_id,
        customer_months.acquisition_month,
        customer_months.months_since_acquisition,
        customer_months.month_start,
        contracts.contract_start_date <= customer_months.evaluation_day
            AND contracts.contract_end_date >= customer_months.evaluation_day  AS is_active_contract,
        contracts.contract_end_date <= customer_months.evaluation_day          AS has_ended,
        contracts.amount,
        contracts.seats
    FROM customer_months
    LEFT JOIN int_contracts AS contracts
        ON contracts.account_id = customer_months.account_id
),

customer_month_status AS (
    SELECT
        account_id,
        acquisition_month,
        months_since_acquisition,
        month_start,
        coalesce(bool_or(is_active_contract), FALSE)                            AS is_active,
        coalesce(bool_or(has_ended), FALSE)                                     AS is_eligible,
        coalesce(sum(CASE WHEN is_active_contract THEN amount END), 0)          AS arr,
        coalesce(sum(CASE WHEN is_active_contract THEN seats END), 0)           AS seats
    FROM customer_contract_days
    GROUP BY account_id, acquisition_month, months_since_acquisition, month_start
),

customer_month0 AS (
    -- each customer's ARR at month 0 (its acquisition month)
    SELECT account_id, arr AS month0_arr
    FROM customer_month_status
    WHERE months_since_acquisition = 0
),

customer_month_retention AS (
    SELECT
        status.*,
        month0.month0_arr,
        lir_months.account_id IS NOT NULL                                       AS meets_lir
    FROM customer_month_status AS status
    LEFT JOIN customer_month0 AS month0
        ON month0.account_id = status.account_id
    LEFT JOIN int_customer_lir_months AS lir_months
        ON lir_months.account_id = status.account_id
       AND lir_months.lir_month = status.month_start
),

cohort_retention AS (
    SELECT
        acquisition_month,
        months_since_acquisition,
        sum(CASE WHEN is_eligible THEN 1 ELSE 0 END)                    AS eligible_customers,
        sum(CASE WHEN is_eligible AND is_active THEN 1 ELSE 0 END)      AS retained_customers,
        sum(month0_arr)                                                 AS starting_arr,
        sum(arr)                                                        AS arr,
        sum(least(arr, month0_arr))                                     AS capped_arr,
        sum(seats)                                                      AS seats,
        sum(CASE WHEN meets_lir THEN 1 ELSE 0 END)                      AS lir_customers
    FROM customer_month_retention
    GROUP BY acquisition_month, months_since_acquisition
),

cohort_start AS (
    SELECT acquisition_month, seats AS starting_seats
    FROM cohort_retention
    WHERE months_since_acquisition = 0
),

usage_coverage AS (
    -- the first day the usage data covers (NULL without usage data as of run_date)
    SELECT min(occurred_date) AS usage_data_from
    FROM stg_usage_events
    WHERE occurred_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
),

cohort_rows AS (
    SELECT
        evaluation.acquisition_month,
        evaluation.months_since_acquisition,
        evaluation.cohort_customers,
        cohort_retention.eligible_customers,
        cohort_retention.retained_customers,
        cohort_retention.starting_arr,
        cohort_retention.arr,
        cohort_retention.capped_arr,
        cohort_retention.seats,
        cohort_start.starting_seats,
        CASE
            WHEN evaluation.month_start >= usage_coverage.usage_data_from
             -- at least one whole LIR window between the month's first day and its evaluation day
             AND CAST(date_part('day', evaluation.evaluation_day) AS BIGINT) >= {{ var('lir_window_days') }}
            THEN cohort_retention.lir_customers
        END AS lir_customers
    FROM cohort_evaluation_days AS evaluation
    JOIN cohort_retention
        ON cohort_retention.acquisition_month = evaluation.acquisition_month
       AND cohort_retention.months_since_acquisition = evaluation.months_since_acquisition
    JOIN cohort_start
        ON cohort_start.acquisition_month = evaluation.acquisition_month
    CROSS JOIN usage_coverage
)

SELECT
    acquisition_month,
    months_since_acquisition,
    cohort_customers,
    eligible_customers,
    retained_customers,
    CAST(retained_customers AS DOUBLE) / NULLIF(eligible_customers, 0)  AS logo_retention,
    starting_arr,
    arr,
    arr / NULLIF(starting_arr, 0)                                       AS net_revenue_retention,
    capped_arr / NULLIF(starting_arr, 0)                                AS gross_revenue_retention,
    CAST(seats AS DOUBLE) / NULLIF(starting_seats, 0)                   AS seat_retention,
    lir_customers,
    CAST(lir_customers AS DOUBLE) / NULLIF(cohort_customers, 0)         AS lir_rate
FROM cohort_rows
ORDER BY acquisition_month, months_since_acquisition
