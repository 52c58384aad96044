drop table if exists oidc_logins;
