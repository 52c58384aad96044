-- Success rate is a share, runs are positive and run times are not negative.
select action_type, service
from rpt_automated_response_effectiveness
where success_rate not between 0 and 1
    or runs <= 0
    or mean_run_s < 0
