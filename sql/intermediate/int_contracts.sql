-- int_contracts
-- Grain: one row per contract = a won (as of run_date) opportunity of any Type (New Business, Renewal,
-- Expansion) with an AccountId and both Contract_Start__c and Contract_End__c set. The window is
-- inclusive on both ends and may reach past run_date.
-- is_renewed: another contract of the same account (won as of run_date, like every row here) starts
-- on the end day or within var renewal_grace_days (31) after it: 0 <= next Contract_Start__c -
-- Contract_End__c <= grace days (a contract starting before the end, concurrent or co-termed, is not a
-- renewal of it). The following contract may start after run_date: it is won already.
-- has_ended: Contract_End__c on or before run_date. Only an ended contract has an outcome for
-- renewal_rate_12m (METRICS.md read "as of" run_date: a contract that has not ended yet is neither
-- renewed nor lost, even when its renewal is already signed). An ended contract that is not renewed
-- counts as not renewed, also while its grace period is still running (the literal text;
-- INTERPRETATIONS U4 names the alternative of leaving those out until end + grace <= run_date).
WITH contracts AS (
    SELECT
        opportunity_id,
        account_id,
        opportunity_type,
        channel,
        amount,
        seats,
        close_date,
        contract_start_date,
        contract_end_date
    FROM int_opportunities
    WHERE is_won_as_of
      AND account_id IS NOT NULL
      AND contract_start_date IS NOT NULL
      AND contract_end_date IS NOT NULL
),

renewed_contracts AS (
    SELECT DISTINCT ended.opportunity_id
    FROM contracts AS ended
    JOIN contracts AS following
        ON following.account_id = ended.account_id
       AND following.opportunity_id <> ended.opportunity_id
       -- days from the end of this contract to the start of the following one
       AND following.contract_start_date - ended.contract_end_date
           BETWEEN 0 AND {{ var('renewal_grace_days') }}
)

SELECT
    contracts.*,
    CAST(date_trunc('month', contracts.contract_end_date) AS DATE)  AS contract_end_month,
    renewed_contracts.opportunity_id IS NOT NULL                    AS is_renewed,
    contracts.contract_end_date <= {{ run_date }}                   AS has_ended
FROM contracts
LEFT JOIN renewed_contracts
    ON renewed_contracts.opportunity_id = contracts.opportunity_id
