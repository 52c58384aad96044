drop table if exists escalation_notifications;
drop table if exists incident_escalations;
drop table if exists escalation_policies;
drop table if exists oncall_overrides;
drop table if exists oncall_schedules;
