-- int_opportunities
-- Grain: one row per opportunity (every row of stg_opportunities), with the "as of run_date" facts the
-- marts share (INTERPRETATIONS G2):
--   is_created_as_of = CreatedDate before run_date + 1 day (it counts as an opportunity created)
--   is_won_as_of     = IsWon and CloseDate on or before run_date (a won flag with a NULL or later
--                      CloseDate is not won yet)
--   is_closed_as_of  = IsClosed and CloseDate on or before run_date
-- Month columns are DATE (first day of the month, UTC).
SELECT
    opportunity_id,
    account_id,
    opportunity_name,
    created_at,
    created_date,
    CAST(date_trunc('month', created_at) AS DATE)                       AS created_month,
    close_date,
    CAST(date_trunc('month', close_date) AS DATE)                       AS close_month,
    stage_name,
    amount,
    seats,
    opportunity_type,
    channel,
    product_type,
    contract_start_date,
    contract_end_date,
    owner_id,
    is_won,
    is_closed,
    coalesce(created_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day', FALSE) AS is_created_as_of,
    coalesce(is_won AND close_date <= {{ run_date }}, FALSE)             AS is_won_as_of,
    coalesce(is_closed AND close_date <= {{ run_date }}, FALSE)          AS is_closed_as_of
FROM stg_opportunities
