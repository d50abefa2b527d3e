# 022_fdw_commit.t
#	dynamo_fdw's writes at COMMIT (write_mode 'commit') against a 3-node
#	secure cluster with faults between and during the statements of a
#	transaction: a node killed between two statements makes a W=3 COMMIT
#	fail -- its DETAIL says how many keys were written and names some that
#	were not, and the local part of the transaction is rolled back too --
#	while with W=2 the same transaction commits and every key reads back;
#	a COMMIT whose writes wait on a SIGSTOPped node is cancelled and the
#	session goes on.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest ();
use DynamoCluster qw(start_cluster wait_until status_of);
use FdwTest;

my $control = (`pg_config --sharedir` =~ s/\s+$//r) . '/extension/dynamo_fdw.control';
plan skip_all => "dynamo_fdw is not installed ($control is missing: make install)"
  unless -f $control;

my @n = start_cluster(3, engine => 'memory', prefix => 'n', secure => 1);
my ($n1, $n2, $n3) = @n;
my $pg = FdwTest::Postgres->start;
my $key = DynamoTest::slurp($n1->{admin_key});
my $trust = DynamoTest::slurp($n1->{trust});
my $nodes = join(',', map { $_->addr } @n);

$pg->psql_ok(<<"SQL", 'extension, servers, user mappings, tables');
CREATE EXTENSION dynamo_fdw;
CREATE SERVER ring FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '$nodes', timeout_ms '10000', connect_timeout_ms '2000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ring OPTIONS (key \$k\$$key\$k\$, trust \$t\$$trust\$t\$);
CREATE FOREIGN TABLE kv (key text, value text, siblings int, context text)
  SERVER ring OPTIONS (bucket 'commit_kv');
CREATE SERVER via_n2 FOREIGN DATA WRAPPER dynamo_fdw
  OPTIONS (nodes '@{[ $n2->addr ]}', routing 'any', timeout_ms '60000', connect_timeout_ms '60000');
CREATE USER MAPPING FOR CURRENT_USER SERVER via_n2 OPTIONS (key \$k\$$key\$k\$, trust \$t\$$trust\$t\$);
CREATE FOREIGN TABLE kv_n2 (key text, value text) SERVER via_n2 OPTIONS (bucket 'commit_kv');
CREATE TABLE audit (note text);
SQL

my $s = $pg->session;
my ($out, $err) = $s->query(q{INSERT INTO kv (key, value) SELECT 'warm' || i, 'x' FROM generate_series(1, 10) i});
is($err, '', 'the session writes with every node up') or diag($err);

subtest 'a node killed between statements: COMMIT with W=3 fails and rolls back' => sub {
	($out, $err) = $s->query(q{BEGIN;
SET LOCAL dynamo_fdw.w = 3;
INSERT INTO kv (key, value) SELECT 'a' || i, 'v' FROM generate_series(1, 20) i;
INSERT INTO audit VALUES ('first statement')});
	is($err, '', 'the first statements queue their writes') or diag($err);
	$n3->kill9;
	($out, $err) = $s->query(q{INSERT INTO kv (key, value) SELECT 'b' || i, 'v' FROM generate_series(1, 20) i});
	is($err, '', 'a statement after the kill still queues (reads R=2 to check the keys)') or diag($err);
	my $t0 = time;
	($out, $err) = $s->query(q{\set VERBOSITY verbose
COMMIT;
\set VERBOSITY default});
	my $secs = time - $t0;
	like($err, qr/ERROR:  HV000: quorum not met for the put of key "[ab]\d+" in bucket "commit_kv"/,
		'COMMIT fails with the quorum error of a key') or diag($err);
	like($err, qr/DETAIL:  2 replies received, 3 needed\.  COMMIT wrote 0 of 40 keys, then the transaction was rolled back; not written \(or not known to be\): "[ab]\d+", "[ab]\d+", "[ab]\d+", "[ab]\d+", "[ab]\d+" and 35 more\./,
		'its DETAIL says how many keys were written and names the first that were not') or diag($err);
	like($err, qr/HINT:  Dynamo has no two-phase commit/, 'and says there is no two-phase commit');
	diag(sprintf('the failed COMMIT of 40 keys took %.2f s', $secs));
	($out, $err) = $s->query(q{SELECT count(*) FROM audit});
	is($out, "0\n", 'the local part of the transaction is rolled back too') or diag($err);
	($out, $err) = $s->query(q{SELECT 1});
	is($out, "1\n", 'the session is usable');
};

subtest 'the same transaction with W=2 commits' => sub {
	($out, $err) = $s->query(q{BEGIN;
SET LOCAL dynamo_fdw.w = 2;
INSERT INTO kv (key, value) SELECT 'c' || i, 'v' || i FROM generate_series(1, 40) i ON CONFLICT DO NOTHING;
UPDATE kv SET value = value || '!' WHERE key IN ('c1', 'c2');
DELETE FROM kv WHERE key = 'c3';
INSERT INTO audit VALUES ('committed');
COMMIT});
	is($err, '', 'COMMIT with a node down and W=2') or diag($err);
	($out, $err) = $s->query(q{SET dynamo_fdw.r = 2;
SELECT count(*), count(*) FILTER (WHERE value LIKE '%!') FROM kv WHERE key LIKE 'c%';
RESET dynamo_fdw.r});
	is($out, "39|2\n", 'every key reads back with R=2 (40 inserted, 2 updated, 1 deleted)') or diag($err);
	($out) = $s->query(q{SELECT count(*) FROM audit});
	is($out, "1\n", 'and the local row is there');
};

$n3->restart;
ok(defined wait_until(20, sub { status_of($n1, 'n3') eq 'up' }), 'n3 is back');

# PostgreSQL disables statement_timeout before it commits, so COMMIT's
# writes are bounded by timeout_ms per request, and a cancel ends them.
subtest 'a COMMIT waiting on a stopped node is cancelled, and the session goes on' => sub {
	($out, $err) = $s->query(q{SELECT count(*) FROM kv_n2 WHERE key = 'warm1'});
	is($out, "1\n", 'read through n2') or diag($err);
	($out, $err) = $s->query(q{BEGIN;
INSERT INTO kv_n2 (key, value) SELECT 'd' || i, 'v' FROM generate_series(1, 50) i;
INSERT INTO audit VALUES ('never')});
	is($err, '', 'writes queued through n2') or diag($err);
	kill 'STOP', $n2->pid;
	$s->send('COMMIT');
	my $waiting = wait_until(10, sub {
		my ($rc, $o) = $pg->psql(sprintf(q{SELECT wait_event_type FROM pg_stat_activity WHERE pid = %d},
				$s->pid));
		return $rc == 0 && $o eq "Extension\n";
	});
	ok(defined $waiting, 'COMMIT waits for the stopped node (wait_event_type Extension)');
	my ($rc, $o) = $pg->psql(sprintf('SELECT pg_cancel_backend(%d)', $s->pid));
	is($o, "t\n", 'pg_cancel_backend');
	my ($sout, $serr, $secs) = $s->wait_done(30);
	kill 'CONT', $n2->pid;
	like($serr, qr/canceling statement due to user request/, 'the COMMIT is cancelled') or diag($serr);
	like($serr, qr/DETAIL:  COMMIT was interrupted when \d+ of 50 keys were known to be written and \d+ more were sent/,
		'the error says what COMMIT had sent') or diag($serr);
	cmp_ok($secs, '<', 15, sprintf('%.1f s after it was sent', $secs));
	($out, $err) = $s->query(q{SELECT count(*) FROM audit});
	is($out, "1\n", 'the transaction is rolled back, and the session is usable') or diag($err);
	($out, $err) = $s->query(q{INSERT INTO kv_n2 (key, value) VALUES ('after', 'cancel')});
	is($err, '', 'it writes through n2 again') or diag($err);
	($out, $err) = $s->query(q{SELECT value FROM kv WHERE key = 'after'});
	is($out, "cancel\n", 'and what it wrote reads back') or diag($err);
};

done_testing();
