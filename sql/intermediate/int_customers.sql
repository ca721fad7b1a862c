-- int_customers
-- Grain: one row per customer account. A customer is an account with at least one won (as of run_date)
-- opportunity of Type 'New Business'. Its acquisition month is the month of the CloseDate of its first
-- such opportunity (earliest CloseDate, ties broken by CreatedDate then Id).
WITH won_new_business AS (
    SELECT
        account_id,
        opportunity_id,
        close_date,
        channel,
        amount,
        row_number() OVER (
            PARTITION BY account_id
            ORDER BY close_date, created_at, opportunity_id
        ) AS new_business_rank
    FROM int_opportunities
    WHERE is_won_as_of
      AND opportunity_type = 'New Business'
      AND account_id IS NOT NULL
)

SELECT
    account_id,
    opportunity_id                                  AS first_opportunity_id,
    close_date                                      AS first_close_date,
    CAST(date_trunc('month', close_date) AS DATE)   AS acquisition_month,
    channel                                         AS acquisition_channel,
    amount                                          AS first_amount
FROM won_new_business
WHERE new_business_rank = 1
