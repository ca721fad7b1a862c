-- campaign_cohorts_weekly
-- Grain: campaign x cohort_week. One row = the leads added to one campaign in one ISO week (Monday,
-- UTC, week of CampaignMember.CreatedDate) and how far they got in the funnel as of run_date.
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md C1-C6):
--   * only members with a LeadId, added before run_date + 1 day. A lead counts once per campaign and
--     week (de-duplicated first), but in every campaign it touched (multi-touch). The LeadId need not
--     exist in leads (then it is a member with no MQL, SQL or opportunity).
--   * responders: the lead has HasResponded on any of its member rows in that campaign and week
--   * mqls / sqls / opportunities / won are properties of the member lead as of run_date, at any time
--     (before or after joining the campaign): no attribution rule
--   * opportunities / won / won_acv count distinct lead opportunities (two leads converted into the same
--     opportunity count once): opportunities created as of run_date, won = those won as of run_date,
--     won_acv is 0 when nothing was won
--   * cost spreads the campaign's ActualCost over its weeks pro rata to members (NULL without
--     ActualCost). A member whose CampaignId is not in campaigns keeps its row with NULL name, channel
--     and cost.
WITH campaign_week_leads AS (
    -- de-duplicate first: one row per campaign, week and lead
    SELECT
        campaign_id,
        CAST(date_trunc('week', created_at) AS DATE)  AS cohort_week,
        lead_id,
        bool_or(has_responded)                        AS has_responded
    FROM stg_campaign_members
    WHERE lead_id IS NOT NULL
      AND campaign_id IS NOT NULL
      AND created_at < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
    GROUP BY campaign_id, CAST(date_trunc('week', created_at) AS DATE), lead_id
),

member_funnel AS (
    SELECT
        campaign_week_leads.campaign_id,
        campaign_week_leads.cohort_week,
        campaign_week_leads.lead_id,
        campaign_week_leads.has_responded,
        lead_funnel.mql_at IS NOT NULL  AS is_mql,
        lead_funnel.sql_at IS NOT NULL  AS is_sql,
        lead_funnel.opportunity_id,
        lead_funnel.is_won,
        lead_funnel.opportunity_amount
    FROM campaign_week_leads
    LEFT JOIN int_lead_funnel AS lead_funnel
        ON lead_funnel.lead_id = campaign_week_leads.lead_id
),

member_counts AS (
    SELECT
        campaign_id,
        cohort_week,
        count(*)                                        AS members,
        sum(CASE WHEN has_responded THEN 1 ELSE 0 END)  AS responders,
        sum(CASE WHEN is_mql THEN 1 ELSE 0 END)         AS mqls,
        sum(CASE WHEN is_sql THEN 1 ELSE 0 END)         AS sqls
    FROM member_funnel
    GROUP BY campaign_id, cohort_week
),

campaign_week_opportunities AS (
    -- one row per campaign, week and distinct opportunity
    SELECT DISTINCT
        campaign_id,
        cohort_week,
        opportunity_id,
        is_won,
        opportunity_amount
    FROM member_funnel
    WHERE opportunity_id IS NOT NULL
),

opportunity_counts AS (
    SELECT
        campaign_id,
        cohort_week,
        count(*)                                                 AS opportunities,
        sum(CASE WHEN is_won THEN 1 ELSE 0 END)                  AS won,
        sum(CASE WHEN is_won THEN opportunity_amount ELSE 0 END) AS won_acv
    FROM campaign_week_opportunities
    GROUP BY campaign_id, cohort_week
),

campaign_members_total AS (
    SELECT campaign_id, sum(members) AS all_week_members
    FROM member_counts
    GROUP BY campaign_id
),

cohorts AS (
    SELECT
        member_counts.campaign_id,
        campaign.campaign_name,
        campaign.channel,
        member_counts.cohort_week,
        member_counts.members,
        member_counts.responders,
        member_counts.mqls,
        member_counts.sqls,
        coalesce(opportunity_counts.opportunities, 0)   AS opportunities,
        coalesce(opportunity_counts.won, 0)             AS won,
        coalesce(opportunity_counts.won_acv, 0)         AS won_acv,
        campaign.actual_cost * member_counts.members
            / NULLIF(campaign_members_total.all_week_members, 0)  AS cost
    FROM member_counts
    JOIN campaign_members_total
        ON campaign_members_total.campaign_id = member_counts.campaign_id
    LEFT JOIN stg_campaigns AS campaign
        ON campaign.campaign_id = member_counts.campaign_id
    LEFT JOIN opportunity_counts
        ON opportunity_counts.campaign_id = member_counts.campaign_id
       AND opportunity_counts.cohort_week = member_counts.cohort_week
)

SELECT
    campaign_id,
    campaign_name,
    channel,
    cohort_week,
    members,
    responders,
    mqls,
    sqls,
    opportunities,
    won,
    won_acv,
    CAST(mqls AS DOUBLE) / NULLIF(members, 0)               AS mql_rate,
    CAST(sqls AS DOUBLE) / NULLIF(mqls, 0)                  AS mql_to_sql_rate,
    CAST(opportunities AS DOUBLE) / NULLIF(sqls, 0)         AS sql_to_opportunity_rate,
    CAST(won AS DOUBLE) / NULLIF(opportunities, 0)          AS opportunity_win_rate,
    cost,
    cost / NULLIF(mqls, 0)                                  AS cost_per_mql
FROM cohorts
ORDER BY campaign_id, cohort_week
