# 030_antientropy.t
#	Anti-entropy with Merkle trees, on real dynamod processes:
#	- a node whose data folder was deleted holds every key again after one
#	  repair round (the bytes repair moved are printed beside the data);
#	- two replicas of 100,000 keys that differ in 100 converge after one
#	  exchange whose comparison traffic is under 2 % of sending every key's
#	  digest (both figures printed);
#	- 1,000 keys deleted while a replica is down stay deleted once it is
#	  back and repaired, and their tombstones are reaped from every replica
#	  after the grace period (STATUS counts them).

use strict;
use warnings;

use File::Path qw(remove_tree);
use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest qw(raw_connect frame read_frame);
use DynamoCluster qw(start_cluster wait_until wait_converged pending_hints raw_put raw_get
  replica_copy values_of);

# Load keys key:000000000000 .. key:(count-1) through $node with dynamo-bench.
sub load_keys
{
	my ($node, $count, @more) = @_;
	my ($rc, $out, $err) = DynamoTest::run_cmd(
		cmd => [ DynamoTest::bin('dynamo-bench'), '--node', $node->addr, '--insecure',
			'--op', 'put', '--sequential', '--keys', $count, '--requests', $count,
			'--connections', 4, '--pipeline', 16, '--bucket', 'ae', @more ],
		timeout => 300);
	is($rc, 0, "dynamo-bench wrote $count keys") or diag($out . $err);
}

sub status_field { my ($n, $f) = @_; return $n->status->{$f} // -1 }

# LEB128, as dyn_buf_put_varint writes it.
sub varint
{
	my ($v) = @_;
	my $out = '';
	while ($v >= 0x80) { $out .= chr(($v & 0x7f) | 0x80); $v >>= 7 }
	return $out . chr($v);
}

# An encoded sibling set of one version written by node $id (counter 1):
# format 1, one sibling, no flags, dot at entry 0, clock {id: 1}, value.
sub one_version
{
	my ($id, $value) = @_;
	my $clock = pack('C C/a*', 1, $id) . varint(1) . varint(int(time * 1000));
	return pack('C n C C', 1, 1, 0, 0) . $clock . pack('N/a*', $value);
}

# dynamo-cli repair through $node: the decoded report.
sub repair
{
	my ($node) = @_;
	my ($rc, $out, $err) = $node->cli({ timeout => 600 }, '--json', 'repair');
	is($rc, 0, "repair on $node->{id}") or diag($err);
	return DynamoTest::json_decode($out) // {};
}

sub all_hints_drained
{
	my (@nodes) = @_;
	return defined wait_until(60, sub { !grep { pending_hints($_) > 0 } @nodes });
}

# ---------------------------------------------------------------- wipe

{
	my @n = start_cluster(3, engine => 'wiredtiger', prefix => 'w',
		args => [ '--repair-interval', '0' ]);
	my $keys = 20000;
	load_keys($n[0], $keys);
	ok(all_hints_drained(@n), 'hints drained');
	ok(defined wait_until(30, sub { !grep { status_field($_, 'keys') != $keys } @n }),
		"every node holds the $keys keys")
	  or diag(join ' ', map { "$_->{id}=" . status_field($_, 'keys') } @n);

	$n[2]->stop;
	remove_tree($n[2]{data});
	mkdir $n[2]{data} or die "mkdir: $!";
	$n[2]->restart;
	my $t0 = time;
	ok(wait_converged(\@n, 30), 'the wiped node is back in the ring');

	# it sees that it lost its data and runs a repair round by itself,
	# forwarding writes to the other owners until the round is over
	my $took = wait_until(120, sub { my $s = $n[2]->status; $s->{anti_entropy}{rounds}
		  && !$s->{recovering} });
	ok(defined $took, 'the wiped node recovered by itself');
	$took = time - $t0;
	my $ae = $n[2]->status->{anti_entropy};
	is($ae->{rounds}, 1, 'in one repair round');
	is($ae->{failed}, 0, 'no exchange failed');
	is(status_field($n[2], 'keys'), $keys, "after one repair round it holds all $keys keys");
	my $data = $keys * 100;
	diag(sprintf('wiped node restored: %d keys (%d bytes of values) within %.2f s of its '
		  . 'restart; repair sent %d bytes and received %d bytes (%.2f x the values)',
		$ae->{keys_received}, $data, $took, $ae->{bytes_sent}, $ae->{bytes_received},
		($ae->{bytes_sent} + $ae->{bytes_received}) / $data));
	my $r = repair($n[2]);
	is($r->{keys_sent} + $r->{keys_received}, 0, 'a forced round then finds nothing to move');

	# the restored copy is the real one: spot-check keys straight from its store
	my $missing = 0;
	for my $i (map { int($_ * $keys / 200) } 0 .. 199)
	{
		my $k = sprintf('key:%012d', $i);
		my $sib = replica_copy($n[2], 'ae', $k);
		$missing++ unless $sib && @{ values_of($sib) } == 1;
	}
	is($missing, 0, 'every sampled key is in the wiped node\'s own store');
	$_->stop for @n;
}

# ------------------------------------------------------- the rate bound

# The same restore with --transfer-rate 1 (MiB/s): it takes as long as the
# bound says, while client reads through the other node go on.  Four
# partitions of ~1.4 MB each: a full transfer of one takes several pages.
{
	my $mib = 1;
	my @n = start_cluster(2, engine => 'wiredtiger', prefix => 'r', n => 2,
		args => [ '--repair-interval', '0', '--transfer-rate', $mib, '--partitions', 4 ]);
	my $keys = 12000;
	load_keys($n[0], $keys, '--value-size', 400);
	ok(all_hints_drained(@n), 'hints drained');
	$n[1]->stop;
	remove_tree($n[1]{data});
	mkdir $n[1]{data} or die "mkdir: $!";
	my $t0 = time;
	$n[1]->restart;
	my ($reads, $failed) = (0, 0);
	my $s = raw_connect($n[0]->port) or die "connect: $!";
	my $id = 0;
	while (time - $t0 < 60)
	{
		my $st = $n[1]->status;
		last if $st->{anti_entropy}{rounds} && !$st->{recovering};
		for (1 .. 20)
		{
			my ($gs, $sib) = raw_get($s, ++$id, 'ae', sprintf('key:%012d', int rand $keys), 1);
			$reads++;
			$failed++ unless $gs eq 'ok' && @{ values_of($sib) } == 1;
		}
	}
	close $s;
	my $took = time - $t0;
	my $ae = $n[1]->status->{anti_entropy};
	my $bytes = $ae->{bytes_received} + $ae->{bytes_sent};
	my $rate = $bytes / $took / (1024 * 1024);
	diag(sprintf('restore at --transfer-rate %d: %d bytes in %.2f s (%.2f MiB/s, restart '
		  . 'included); %d client reads meanwhile, %d failed', $mib, $bytes, $took, $rate,
		$reads, $failed));
	is(status_field($n[1], 'keys'), $keys, 'the throttled restore is complete');
	# the bucket starts with one second's worth, and a 1 MiB page may be in
	# flight when it runs dry: beyond those, 1 MiB per second at most
	cmp_ok($bytes, '<=', ($mib * (1 + $took) + 1.1) * 1024 * 1024,
		'background traffic stayed within the bound');
	cmp_ok($took, '>=', $bytes / ($mib * 1024 * 1024) - 1 - 1.1 / $mib,
		'and took the time the bound says');
	ok($reads > 0 && $failed == 0, 'client reads went on meanwhile');
	$_->stop for @n;
}

# ------------------------------------------------- 100,000 keys, 100 differ

{
	my @n = start_cluster(2, engine => 'wiredtiger', prefix => 'm', n => 2,
		args => [ '--repair-interval', '0' ]);
	my $keys = 100000;
	load_keys($n[0], $keys, '--value-size', 32);
	ok(all_hints_drained(@n), 'hints drained');
	ok(defined wait_until(30, sub { !grep { status_field($_, 'keys') != $keys } @n }),
		"both replicas hold the $keys keys");

	# 100 keys on which the replicas differ, made straight in the first
	# replica's store (REPLICA_PUT, no coordination): 50 keys the second
	# lacks, and 50 existing keys given a concurrent version by a node "zz"
	# (a second sibling) that only the first holds
	my $s = raw_connect($n[0]->port) or die "connect: $!";
	my $made = 0;
	for my $i (1 .. 100)
	{
		my ($key, $obj) = $i <= 50
		  ? ("extra:$i", one_version('zz', "extra value $i"))
		  : (sprintf('key:%012d', $i * 997), one_version('zz', "concurrent value $i"));
		print $s frame(0x11, $i, pack('C/a* n/a* C/a* N/a*', 'ae', $key, '', $obj));
		my $g = read_frame($s, 5) or last;
		$made++ if $g->{type} == 0x91;
	}
	close $s;
	is($made, 100, 'the first replica has 50 keys the second lacks and 50 newer siblings');
	is(status_field($n[1], 'keys'), $keys, 'the second replica still has the old key set');
	my $sib = replica_copy($n[1], 'ae', sprintf('key:%012d', 60 * 997));
	is(scalar @{ values_of($sib) }, 1, 'the second replica has one version of a differing key');

	my $r = repair($n[0]);
	is(status_field($n[1], 'keys'), $keys + 50, 'one round later both hold the same keys');
	my $k60 = sprintf('key:%012d', 60 * 997);
	my $both = values_of(replica_copy($n[1], 'ae', $k60));
	is(scalar @$both, 2, 'and both versions (siblings) of a differing key');
	ok(grep({ $_ eq 'concurrent value 60' } @$both), 'the concurrent one among them');
	is_deeply($both, values_of(replica_copy($n[0], 'ae', $k60)), 'the same on both replicas');
	is($r->{keys_sent}, 100, 'exactly the 100 differing keys were sent');
	is($r->{keys_received}, 50, 'and the 50 existing ones were read from the other side first');
	my $every = ($keys + 50) * 16;
	my $pct = 100 * $r->{compare_bytes} / $every;
	diag(sprintf('100,000 keys, 100 differing: finding them took %d bytes (tree walk and '
		  . 'key lists, both ways); sending every key\'s 16-byte digest would take %d '
		  . 'bytes (%.2f %%); with the 100 sibling sets the exchange moved %d bytes in %d ms',
		$r->{compare_bytes}, $every, $pct, $r->{bytes_sent} + $r->{bytes_received}, $r->{ms}));
	cmp_ok($pct, '<', 2, 'the comparison costs under 2 % of every key\'s digest');
	my $again = repair($n[0]);
	is($again->{keys_sent} + $again->{keys_received}, 0, 'a second round finds nothing');
	$_->stop for @n;
}

# ---------------------------------------------------------- tombstones

{
	my $grace = 3;
	my @n = start_cluster(3, engine => 'wiredtiger', prefix => 't',
		args => [ '--repair-interval', '0', '--tombstone-grace', $grace ]);
	my $s = raw_connect($n[0]->port) or die "connect: $!";
	my %ctx;
	my $id = 0;
	for my $i (1 .. 1000)
	{
		my ($st, $c) = raw_put($s, ++$id, 'gone', "k$i", "value $i", 3);
		$ctx{"k$i"} = $c if $st eq 'ok';
	}
	is(scalar keys %ctx, 1000, '1,000 keys written to all three replicas');

	$n[2]->stop;
	my $deleted = 0;
	for my $k (sort keys %ctx)
	{
		my $body = pack('C/a* n/a* n/a* C N/a*', 'gone', $k, $ctx{$k}, 2, '');
		print $s frame(0x03, ++$id, $body);
		my $f = read_frame($s, 10);
		$deleted++ if $f && $f->{type} == 0x83;
	}
	close $s;
	my $deleted_at = time;
	is($deleted, 1000, '1,000 keys deleted with W=2 while a replica is down');
	ok(status_field($n[0], 'tombstones') >= 1000, 'the live replicas hold the tombstones');

	$n[2]->restart;
	ok(wait_converged(\@n, 30), 'the replica is back');
	my $r = repair($n[2]);
	is($r->{failed}, 0, 'repair round without failures');
	ok(all_hints_drained(@n), 'hints drained');

	my $readable = 0;
	$s = raw_connect($n[2]->port) or die "connect: $!";
	for my $k (sort keys %ctx)
	{
		my ($st, $sib) = raw_get($s, ++$id, 'gone', $k, 3);
		$readable++ if $st ne 'ok' || @{ values_of($sib) } > 0;
	}
	close $s;
	is($readable, 0, 'none of the 1,000 deleted keys is readable (R=3)');
	# a slow machine may have taken longer than the grace period to get
	# here, and the repair round above may then have reaped k500 already
	my $in_grace = time - $deleted_at < $grace;
	for my $node (@n)
	{
		my $sib = replica_copy($node, 'gone', 'k500');
		if ($in_grace || ($sib && @$sib))
		{
			ok($sib && @$sib > 0 && !@{ values_of($sib) },
				"$node->{id} holds k500 as a tombstone, not as a value");
		}
		else
		{
			pass("$node->{id} holds no value of k500 (its tombstone was reaped: the grace period passed)");
		}
	}

	sleep $grace + 1;
	my $reaped = 0;
	$reaped += repair($_)->{tombstones_reaped} for @n;
	my @left = map { status_field($_, 'tombstones') } @n;
	diag("after the ${grace}s grace period: $reaped tombstones reaped by the first replicas; "
		  . "tombstones left per node: @left");
	is_deeply(\@left, [ 0, 0, 0 ], 'the tombstones are gone from every replica');
	is(status_field($_, 'keys'), 0, "$_->{id} holds no key of the deleted set") for @n;

	# and a replica that comes back with old data after reaping would be
	# the grace period's business: the deleted keys stay unreadable here
	$s = raw_connect($n[0]->port) or die "connect: $!";
	my ($st, $sib) = raw_get($s, ++$id, 'gone', 'k1', 3);
	close $s;
	ok($st eq 'ok' && !@{ values_of($sib) }, 'a reaped key reads as absent');
	$_->stop for @n;
}

done_testing();
