# 016_trust_reload.t
#	SIGHUP re-reads the trust file and the node's key (issue 16, item 5): a
#	key added can connect at once; a key removed has its open connections
#	closed (a dynamo-bench run with it ends at once) and its next request
#	fails with exit 4; a key whose role changed has the new role; a trust
#	file that does not parse keeps the old one in force, and the log names
#	the line; a new node key takes over for new connections, and a key file
#	that does not load keeps the old key.  All on one running node.

use strict;
use warnings;

use Test::More;
use File::Copy qw(move);
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h _exit);
use Time::HiRes qw(time sleep);

use DynamoTest qw(bin keygen write_trust cli_at);

my $dir = tempdir('dynamo-reload-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{DYNAMO_KEEP});
my %pub = map { $_ => keygen("$dir/$_.key") } qw(writer newbie);

my $node = DynamoTest::Node->start(engine => 'memory', secure => 1,
	trust => [ [ $pub{writer}, 'write', 'writer' ] ]);
my @base = ([ $node->{pubkey}, 'node', $node->{id} ], [ $node->{admin_pubkey}, 'admin', 'admin' ]);

sub log_size { return length(DynamoTest::slurp($node->{log}) // '') }

# Rewrite the trust file, send SIGHUP, and wait for the node to log $re
# after that; returns the log written since.
sub reload
{
	my ($entries, $re, $raw) = @_;
	if (defined $raw)
	{
		open my $fh, '>', $node->{trust} or die "$node->{trust}: $!";
		print $fh $raw;
		close $fh;
		chmod 0644, $node->{trust};
	}
	elsif ($entries)
	{
		write_trust($node->{trust}, [ @base, @$entries ]);
	}
	my $off = log_size();
	kill 'HUP', $node->pid;
	my $deadline = time + 10;
	while (time < $deadline)
	{
		my $since = substr(DynamoTest::slurp($node->{log}), $off);
		return $since if $since =~ $re;
		sleep 0.05;
	}
	fail("the node did not log $re within 10 s after SIGHUP");
	return substr(DynamoTest::slurp($node->{log}), $off);
}

subtest 'a key added to the trust file can connect at once' => sub {
	my ($rc, undef, $err) = $node->cli_as("$dir/newbie.key", 'put', 'r', 'k', 'v0');
	is($rc, 4, 'before: an unknown key exits 4');
	like($err, qr/not trusted/, 'and is told it is not trusted') or diag($err);
	my $log = reload([ [ $pub{writer}, 'write', 'writer' ], [ $pub{newbie}, 'write', 'newbie' ] ],
		qr/reloaded the trust file/);
	like($log, qr/received SIGHUP: reloaded the trust file \Q$node->{trust}\E/, 'the reload is logged');
	like($log, qr/4 trusted keys/, 'with the number of keys trusted now');
	($rc, undef, $err) = $node->cli_as("$dir/newbie.key", 'put', 'r', 'k', 'v1');
	is($rc, 0, 'after SIGHUP the new key may write') or diag($err);
	my $t = $node->status->{trust};
	is($t->{keys}, 4, 'status: 4 keys trusted');
	is($t->{reloads}, 1, 'status: 1 reload');
};

subtest 'a key removed: its open connections are closed, its next request exits 4' => sub {
	my $out = "$dir/bench.out";
	my $bpid = fork // die "fork: $!";
	if ($bpid == 0)
	{
		open STDOUT, '>', $out or _exit(127);
		open STDERR, '>&', \*STDOUT or _exit(127);
		no warnings 'exec';
		exec { bin('dynamo-bench') } bin('dynamo-bench'), '--node', $node->addr,
		  '--key', "$dir/writer.key", '--trust', $node->{trust}, '--connections', 2,
		  '--pipeline', 4, '--op', 'put', '--keys', 1000, '--duration', 30;
		_exit(127);
	}
	my $deadline = time + 10;
	sleep 0.1 while time < $deadline && ($node->status->{connections}{open} // 0) < 3;
	cmp_ok($node->status->{connections}{open}, '>=', 3,
		'dynamo-bench holds 2 connections with the writer key (and status 1)');
	my $t0 = time;
	my $log = reload([ [ $pub{newbie}, 'write', 'newbie' ] ], qr/no longer lists key/);
	like($log, qr/closing connection from 127\.0\.0\.1:\d+ \(key "writer" \Q$pub{writer}\E, role write\): the reloaded trust file .* no longer lists key \Q$pub{writer}\E/,
		'the node logs closing the removed key\'s connection, with its name and key');
	my $status;
	while (time - $t0 < 10)
	{
		last if waitpid($bpid, WNOHANG) == $bpid && defined($status = $?);
		sleep 0.05;
	}
	my $took = time - $t0;
	if (!defined $status) { kill 'KILL', $bpid; waitpid($bpid, 0); }
	ok(defined $status, sprintf('dynamo-bench (a 30 s run) ended %.1f s after the SIGHUP', $took));
	isnt($status // 0, 0, 'with a failure exit status');
	my $bench_out = DynamoTest::slurp($out) // '';
	like($bench_out, qr/removed from the trust file|lost|closed|reset/i,
		'and says its connection went away') or diag($bench_out);
	my ($rc, undef, $err) = $node->cli_as("$dir/writer.key", 'put', 'r', 'k', 'late');
	is($rc, 4, 'the removed key\'s next request exits 4');
	like($err, qr/not trusted/, 'because the key is not trusted any more') or diag($err);
	my $st = $node->status;
	cmp_ok($st->{trust}{revoked}, '>=', 2, 'status counts the connections closed for it');
	is($st->{connections}{open}, 1, 'none of its connections is left (only the status one)');
	($rc, undef, $err) = $node->cli_as("$dir/newbie.key", 'get', 'r', 'k');
	is($rc, 0, 'the key that stays is unaffected') or diag($err);
};

subtest 'a role changed takes effect on the next connection' => sub {
	reload([ [ $pub{newbie}, 'read', 'newbie' ] ], qr/reloaded the trust file/);
	my ($rc, undef, $err) = $node->cli_as("$dir/newbie.key", 'put', 'r', 'k', 'v2');
	is($rc, 4, 'newbie, now read-only, may not put');
	like($err, qr/needs role write or admin.*role read/, 'and is told its role') or diag($err);
	($rc, undef, $err) = $node->cli_as("$dir/newbie.key", 'get', 'r', 'k');
	is($rc, 0, 'but may get') or diag($err);
};

subtest 'a trust file that does not parse keeps the old one, and the log names the line' => sub {
	my $good = DynamoTest::slurp($node->{trust});
	# the clients here check the node against a copy: the node's file is broken
	my $client_trust = "$dir/trust.client";
	write_trust($client_trust, [ [ $node->{pubkey}, 'node', $node->{id} ] ]);
	my $as = sub { $node->cli_as("$dir/$_[0].key", { trust => $client_trust }, @_[ 1 .. $#_ ]) };
	my $log = reload(undef, qr/could not reload the trust file/,
		$good . "$pub{writer} write writer\n" . substr($pub{writer}, 0, 20) . " admin thief\n");
	like($log, qr/could not reload the trust file: \Q$node->{trust}\E:6: .*stay in force/,
		'the error names the file and line 6, and says the old keys stay') or diag($log);
	my ($rc, undef, $err) = $as->('writer', 'put', 'r', 'k', 'sneak');
	is($rc, 4, 'the key on the good line before it was not let in: the whole file was refused');
	($rc, undef, $err) = $as->('newbie', 'get', 'r', 'k');
	is($rc, 0, 'the keys trusted before still work') or diag($err);
	my ($src, $sout) = cli_at($node->addr, { key => $node->{admin_key}, trust => $client_trust }, 'status');
	my $st = DynamoTest::json_decode($sout) // {};
	is($st->{trust}{reload_failures}, 1, 'status counts the failed reload');
	chmod 0666, $node->{trust};
	$log = reload(undef, qr/could not reload the trust file/);
	like($log, qr/loose permissions/, 'a trust file others may write is refused too');
	chmod 0644, $node->{trust};
	write_trust($node->{trust}, [ @base, [ $pub{newbie}, 'read', 'newbie' ] ]);
};

subtest 'a new node key is taken at SIGHUP; a key file that does not load keeps the old one' => sub {
	my $old = $node->{pubkey};
	my $new = keygen("$dir/node-new.key");
	# first every trust file lists both keys (clients' trust is the node's file here)
	reload([ [ $pub{newbie}, 'read', 'newbie' ], [ $new, 'node', 'n-new' ] ],
		qr/reloaded the trust file/);
	write_trust("$dir/trust.old-only", [ [ $old, 'node', 'old' ] ]);
	write_trust("$dir/trust.new-only", [ [ $new, 'node', 'new' ] ]);

	open my $fh, '>', "$dir/broken.key" or die;
	print $fh "dynamo-secret-key-v1\nnot a key\n";
	close $fh;
	chmod 0600, "$dir/broken.key";
	my $keyfile = $node->{key};
	move($keyfile, "$keyfile.orig") or die "move: $!";
	move("$dir/broken.key", $keyfile) or die "move: $!";
	my $log = reload(undef, qr/could not reload the key/);
	like($log, qr/could not reload the key: .*:2: .*the node keeps key \Q$old\E/,
		'a key file that does not load is logged with its line, and the old key kept') or diag($log);
	is($node->status->{public_key}, $old, 'status still shows the old key');

	move("$dir/node-new.key", $keyfile) or die "move: $!";
	$log = reload(undef, qr/node key is now/);
	like($log, qr/the node key is now \Q$new\E \(was \Q$old\E\)/, 'the new key is logged');
	is($node->status->{public_key}, $new, 'status shows the new key');
	my ($rc, undef, $err) = cli_at($node->addr, { key => $node->{admin_key}, trust => "$dir/trust.new-only" },
		'status');
	is($rc, 0, 'a client that trusts only the new node key connects') or diag($err);
	($rc, undef, $err) = cli_at($node->addr, { key => $node->{admin_key}, trust => "$dir/trust.old-only" },
		'status');
	is($rc, 4, 'one that trusts only the old key does not (exit 4)');
	like($err, qr/node's key \Q$new\E is not in the trust file/, 'and is told why') or diag($err);
};

ok($node->alive, 'the node ran through every reload');
is($node->stop, 0, 'and stops cleanly');

done_testing();
