-- int_lead_funnel
-- Grain: one row per lead (lead_id): its funnel milestones as of run_date. stg_leads already has one
-- row per lead_id: the pipeline declares `primary_key: [Id]` for leads, so the loader quarantines a
-- lead exported twice (the later rows, with the reason) and trims ids; a project that drops that key
-- must de-duplicate in its own stg_leads.
--   mql_at / sql_at:    MQL_Date__c / SQL_Date__c when before run_date + 1 day, else NULL
--   opportunity_id:     the lead's opportunity = ConvertedOpportunityId when that Id exists in
--                       opportunities and was created as of run_date (CreatedDate before run_date + 1
--                       day): only then does it count as an opportunity, or as a won one
--   is_won / won_close_month: that opportunity is won as of run_date (IsWon, CloseDate <= run_date)
-- Leads are not filtered on their own CreatedDate: the milestones carry the "as of" rule.
SELECT
    leads.lead_id,
    leads.created_at,
    leads.channel,
    CASE
        WHEN leads.mql_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
        THEN leads.mql_at
    END                                                                 AS mql_at,
    CASE
        WHEN leads.sql_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
        THEN leads.sql_at
    END                                                                 AS sql_at,
    opportunity.opportunity_id,
    opportunity.amount                                                  AS opportunity_amount,
    opportunity.created_month                                           AS opportunity_created_month,
    coalesce(opportunity.is_won_as_of, FALSE)                           AS is_won,
    CASE WHEN opportunity.is_won_as_of THEN opportunity.close_month END AS won_close_month
FROM stg_leads AS leads
LEFT JOIN int_opportunities AS opportunity
    ON opportunity.opportunity_id = leads.converted_opportunity_id
   AND opportunity.is_created_as_of
