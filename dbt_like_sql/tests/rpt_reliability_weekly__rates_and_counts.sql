-- Attainment is a share; severity counts add up to the total; quantiles are ordered.
select team, service, week
from rpt_reliability_weekly
where ack_slo_attainment not between 0 and 1
    or resolve_slo_attainment not between 0 and 1
    or sev1_incidents + sev2_incidents + sev3_incidents + sev4_incidents <> incidents
    or mtta_p50_s > mtta_p90_s
    or mttr_p50_s > mttr_p90_s
    or repeat_incidents > incidents
