-- int_lead_funnel
-- Grain: one row per lead (lead_id): its funnel milestones as of run_date. A lead exported more than
-- once is collapsed to one row (earliest timestamps win).
--   mql_at / sql_at:    MQL_Date__c / SQL_Date__c when before run_date + 1 day, else NULL
--   opportunity_id:     the lead's opportunity = ConvertedOpportunityId when that Id exists in
--                       opportunities and was created as of run_date (CreatedDate before run_date + 1
--                       day): only then does it count as an opportunity, or as a won one
--   is_won / won_close_month: that opportunity is won as of run_date (IsWon, CloseDate <= run_date)
-- Leads are not filtered on their own CreatedDate: the milestones carry the "as of" rule.
WITH leads_deduplicated AS (
    SELECT
        lead_id,
        min(created_at)                 AS created_at,
        max(channel)                    AS channel,
        min(mql_at)                     AS mql_at,
        min(sql_at)                     AS sql_at,
        max(converted_opportunity_id)   AS converted_opportunity_id
    FROM stg_leads
    GROUP BY lead_id
)

SELECT
    leads_deduplicated.lead_id,
    leads_deduplicated.created_at,
    leads_deduplicated.channel,
    CASE
        WHEN leads_deduplicated.mql_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
        THEN leads_deduplicated.mql_at
    END                                                                 AS mql_at,
    CASE
        WHEN leads_deduplicated.sql_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
        THEN leads_deduplicated.sql_at
    END                                                                 AS sql_at,
    opportunity.opportunity_id,
    opportunity.amount                                                  AS opportunity_amount,
    opportunity.created_month                                           AS opportunity_created_month,
    coalesce(opportunity.is_won_as_of, FALSE)                           AS is_won,
    CASE WHEN opportunity.is_won_as_of THEN opportunity.close_month END AS won_close_month
FROM leads_deduplicated
LEFT JOIN int_opportunities AS opportunity
    ON opportunity.opportunity_id = leads_deduplicated.converted_opportunity_id
   AND opportunity.is_created_as_of
