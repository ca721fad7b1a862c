-- int_typical_deal_size
-- Grain: one row per employee band (the bands of stg_accounts / stg_leads), plus one
-- employee_band = 'ALL' row: the typical first-year deal of a new customer of that size.
--   won_deals:    won (as of run_date) New Business opportunities whose account is in the band
--   typical_acv:  their average Amount (ACV), rounded to cents (reproducible to the last bit)
-- Readings: the band is the account's NumberOfEmployees today (accounts.csv has no history). Accounts
-- without an employee count ('unknown') get no band row: a lead of unknown size is matched to the
-- ALL row instead (an unknown-size account is not the same population as an unknown-size lead).
-- Used by lead scoring twice: a lead's stated budget is read relative to the typical deal of its
-- size, and its route uses the typical deal as the expected ACV.
WITH won_new_business AS (
    SELECT
        accounts.employee_band,
        opportunity.amount
    FROM int_opportunities AS opportunity
    LEFT JOIN stg_accounts AS accounts
        ON accounts.account_id = opportunity.account_id
    WHERE opportunity.is_won_as_of
      AND opportunity.opportunity_type = 'New Business'
      AND opportunity.amount IS NOT NULL
)

SELECT
    employee_band,
    count(*)        AS won_deals,
    round(avg(amount), 2) AS typical_acv
FROM won_new_business
WHERE employee_band IS NOT NULL
  AND employee_band <> 'unknown'
GROUP BY employee_band
UNION ALL
SELECT
    'ALL'           AS employee_band,
    count(*)        AS won_deals,
    round(avg(amount), 2) AS typical_acv
FROM won_new_business
