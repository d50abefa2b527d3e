# 010_cluster.t
#	Three dynamod processes as one cluster (N=3): the ring spreads the
#	partitions, any node coordinates, sibling semantics hold across
#	coordinators and on every replica, the failure detector's timings,
#	sloppy quorum with hinted handoff, quorum failures that say how many
#	replicas acknowledged, read repair, and a concurrency checker that
#	looks for silently lost writes (DESIGN.md section 1).

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest qw(json_decode);
use DynamoCluster qw(start_cluster wait_until wait_converged status_of pending_hints
  replica_copy values_of context_clock written_dot preflist);

my @n = start_cluster(3, engine => 'wiredtiger', prefix => 'n');
my ($n1, $n2, $n3) = @n;

subtest 'the ring: partitions spread evenly, every node agrees' => sub {
	my @s = map { $_->status } @n;
	my %versions = map { $_->{ring_version} => 1 } @s;
	is(scalar keys %versions, 1, 'every node holds the same ring version')
	  or diag(join ' ', map { "$_->{id}:$_->{ring_version}" } @s);
	my $total = 0;
	$total += $_->{partitions_owned} for @s;
	is($total, 64, 'the 64 partitions are owned exactly once');
	for my $s (@s)
	{
		cmp_ok(abs($s->{partitions_owned} - 64 / 3), '<=', 0.1 * 64 / 3,
			"$s->{id} owns $s->{partitions_owned} partitions (within 10% of 64/3)");
	}
	for my $k (map { "key$_" } 1 .. 10)
	{
		my $p = preflist($n1, 'b', $k) // {};
		my @ids = map { $_->{id} } @{ $p->{nodes} // [] };
		my %distinct = map { $_ => 1 } @ids[ 0 .. 2 ];
		is(scalar keys %distinct, 3, "preflist of b/$k starts with 3 distinct nodes (@ids)");
	}
};

subtest 'any node coordinates; W=3 reaches every replica' => sub {
	my $c = $n1->put_ok('basic', 'k', 'one');
	for my $node (@n)
	{
		my $g = $node->get('basic', 'k');
		is_deeply(values_of($g->{siblings}), ['one'], "get through $node->{id}");
	}
	my ($rc, undef, $err) = $n2->cli('put', 'basic', 'k', 'two', '--context', $c, '--w', '3');
	is($rc, 0, 'put with W=3 through another node') or diag($err);
	for my $node (@n)
	{
		is_deeply(values_of(replica_copy($node, 'basic', 'k')), ['two'],
			"$node->{id}'s own copy holds the new version only");
	}
	($rc, undef, $err) = $n1->cli('get', 'basic', 'k', '--r', '4');
	is($rc, 2, 'R=4 with N=3 is refused as invalid');
	like($err, qr/r=4 exceeds the replication factor n=3/, 'and says why');
	($rc, undef, $err) = $n1->cli('put', 'basic', 'k', 'x', '--w', '4');
	is($rc, 2, 'W=4 with N=3 is refused as invalid');
	like($err, qr/w=4 exceeds/, 'and says why');
};

subtest 'siblings across coordinators, on every replica; the merged context collapses them' => sub {
	my $c0 = $n1->put_ok('sib', 'cart', 'base');
	my %by;
	for ([ $n2, 'A' ], [ $n3, 'B' ], [ $n3, 'C' ])
	{
		my ($node, $v) = @$_;
		my ($rc, $out, $err) = $node->cli('put', 'sib', 'cart', $v, '--context', $c0, '--w', '3');
		is($rc, 0, "put $v from the base context through $node->{id}") or diag($err);
		chomp $out;
		$by{$v} = $out;
	}
	for my $node (@n)
	{
		is_deeply(values_of(replica_copy($node, 'sib', 'cart')), [ 'A', 'B', 'C' ],
			"$node->{id} holds the three siblings (two coordinators, one of them twice)");
	}
	my $g = $n1->get('sib', 'cart', '--r', '3');
	is_deeply(values_of($g->{siblings}), [ 'A', 'B', 'C' ], 'a quorum read returns all three');
	my ($rc, undef, $err) = $n2->cli('put', 'sib', 'cart', 'merged', '--context',
		$g->{context}, '--w', '3');
	is($rc, 0, 'a write with the merged context') or diag($err);
	for my $node (@n)
	{
		is_deeply(values_of(replica_copy($node, 'sib', 'cart')), ['merged'],
			"$node->{id} holds one version again");
	}
};

subtest 'failure detection, sloppy quorum and hinted handoff' => sub {
	$n3->kill9;
	my $t0 = time;
	my ($rc, $ctx, $err) = $n1->cli('put', 'hint', 'k', 'while-n3-died', '--w', '2');
	is($rc, 0, 'W=2 succeeds while a preference-list node is killed') or diag($err);
	my %down;
	for my $node ($n1, $n2)
	{
		my $t = wait_until(10, sub { status_of($node, 'n3') eq 'down' });
		ok(defined $t, "$node->{id} sees n3 down");
		$down{ $node->{id} } = time - $t0 if defined $t;
	}
	my $worst = (sort { $b <=> $a } values %down)[0] // 99;
	diag(sprintf('failure detection: n3 killed with -9, seen down by n1 after %.2f s, by n2 after %.2f s',
			$down{n1} // -1, $down{n2} // -1));
	cmp_ok($worst, '<=', 5, 'every other node sees the killed node down within 5 s');

	($rc, $ctx, $err) = $n2->cli('put', 'hint', 'k2', 'after-detection', '--w', '2');
	is($rc, 0, 'W=2 succeeds after the detection too') or diag($err);
	cmp_ok(pending_hints($n1, 'n3') + pending_hints($n2, 'n3'), '>=', 2,
		'hints for n3 are kept while it is down');

	$n3->restart;
	my $t1 = time;
	my %up;
	for my $node ($n1, $n2)
	{
		my $t = wait_until(10, sub { status_of($node, 'n3') eq 'up' });
		ok(defined $t, "$node->{id} sees n3 up again");
		$up{ $node->{id} } = time - $t1 if defined $t;
	}
	my $worst_up = (sort { $b <=> $a } values %up)[0] // 99;
	diag(sprintf('failure detection: n3 restarted, seen up by n1 after %.2f s, by n2 after %.2f s',
			$up{n1} // -1, $up{n2} // -1));
	cmp_ok($worst_up, '<=', 5, 'and up again within 5 s of its return');

	ok(defined wait_until(10, sub { pending_hints($n1) + pending_hints($n2) == 0 }),
		'the hints are delivered: pending hints go to zero')
	  or diag(DynamoTest::json_encode([ map { $_->status->{hints} } $n1, $n2 ]));
	is_deeply(values_of(replica_copy($n3, 'hint', 'k')), ['while-n3-died'],
		'n3 holds the version written while it was dead');
	is_deeply(values_of(replica_copy($n3, 'hint', 'k2')), ['after-detection'],
		'and the one written after it was seen down');
};

subtest 'two of three down: W=2 fails and says 1 of 3, W=1 succeeds' => sub {
	$n2->kill9;
	$n3->kill9;
	my ($rc, $out, $err) = $n1->cli('put', 'q', 'k', 'v2', '--w', '2');
	is($rc, 3, 'W=2 with two of three replicas killed exits 3 (quorum not met)');
	like($err, qr/\b1 of 3 replicas acknowledged\b/, 'and says 1 of 3 replicas acknowledged')
	  or diag($err);
	ok(defined wait_until(10, sub { status_of($n1, 'n2') eq 'down' && status_of($n1, 'n3') eq 'down' }),
		'n1 sees both down');
	($rc, $out, $err) = $n1->cli('put', 'q', 'k', 'v2', '--w', '2');
	is($rc, 3, 'W=2 still fails once they are known down');
	like($err, qr/\b1 of 3 replicas acknowledged\b/, 'with the same count') or diag($err);
	($rc, $out, $err) = $n1->cli('put', 'q', 'k1', 'w1', '--w', '1');
	is($rc, 0, 'W=1 succeeds') or diag($err);
	($rc, $out, $err) = $n1->cli('get', 'q', 'k1', '--r', '2');
	is($rc, 3, 'R=2 fails too');
	like($err, qr/\b1 of 3 replicas answered\b/, 'and says 1 of 3 answered') or diag($err);
	is($n1->get('q', 'k1', '--r', '1')->{siblings}[0]{value}, 'w1', 'R=1 reads it');

	$n2->restart;
	$n3->restart;
	ok(wait_converged(\@n, 10), 'the three are back');
	ok(defined wait_until(10, sub { pending_hints($n1) == 0 }), 'n1 delivered its hints');
	for my $node ($n2, $n3)
	{
		is_deeply(values_of(replica_copy($node, 'q', 'k1')), ['w1'],
			"$node->{id} got the W=1 write by hinted handoff");
	}
};

subtest 'read repair: a stale replica is repaired by one GET' => sub {
	$n3->kill9;
	ok(defined wait_until(10, sub { status_of($n2, 'n3') eq 'down' }), 'n2 sees n3 down');
	my ($rc, undef, $err) = $n2->cli('put', 'rr', 'k', 'fresh', '--w', '2');
	is($rc, 0, 'a write through n2 while n3 is down') or diag($err);
	is(pending_hints($n2, 'n3'), 1, 'n2 keeps its hint for n3');
	# n2 holds the hint: kill it, so that n3 comes back stale
	$n2->kill9;
	$n3->restart;
	ok(defined wait_until(10, sub { status_of($n1, 'n2') eq 'down' && status_of($n1, 'n3') eq 'up' }),
		'n1 sees n2 down and n3 up');
	is_deeply(values_of(replica_copy($n3, 'rr', 'k')), [], 'n3 is stale: it does not have the write');
	my $before = $n1->status->{cluster}{read_repairs};
	my $g = $n1->get('rr', 'k', '--r', '2');
	is_deeply(values_of($g->{siblings}), ['fresh'], 'a GET with R=2 through n1 answers the write');
	ok(defined wait_until(5, sub { @{ values_of(replica_copy($n3, 'rr', 'k')) } == 1 }),
		'after that one GET, n3 holds it (read repair)');
	is_deeply(values_of(replica_copy($n3, 'rr', 'k')), ['fresh'], 'the repaired copy');
	cmp_ok($n1->status->{cluster}{read_repairs}, '>', $before, 'n1 counted the repair');
	$n2->restart;
	ok(wait_converged(\@n, 10), 'all three up again');
	ok(defined wait_until(10, sub { pending_hints($n2) == 0 }), 'n2 delivered its hint too');
};

subtest 'concurrency checker: no acknowledged write is silently lost' => sub {
	my @keys = map { "hot$_" } 1 .. 3;
	my $clients = 4;
	my $duration = 4;
	my $dir = DynamoTest::scratch();
	my @pids;
	for my $c (1 .. $clients)
	{
		my $pid = fork // die "fork: $!";
		if ($pid == 0)
		{
			srand($$ ^ time);
			open my $log, '>', "$dir/cc.$c" or POSIX::_exit(1);
			my $end = time + $duration;
			my $i = 0;
			while (time < $end)
			{
				my $node = $n[ int rand 3 ];
				my $key = $keys[ int rand @keys ];
				my $val = "c$c-" . $i++;
				my $ctx = '';
				if (rand() < 0.6)
				{
					# read-modify-write: the context of a quorum read
					my $g = $node->get('cc', $key, '--r', '2');
					next if $g->{rc} > 1;
					$ctx = $g->{context} // '';
				}
				my ($rc, $out) = $node->cli('put', 'cc', $key, $val,
					($ctx ne '' ? ('--context', $ctx) : ()), '--w', '2');
				chomp $out;
				print $log join("\t", $key, $val, $ctx, $out), "\n" if $rc == 0;
			}
			close $log;
			POSIX::_exit(0);
		}
		push @pids, $pid;
	}
	waitpid($_, 0) for @pids;
	my @acked;
	for my $c (1 .. $clients)
	{
		open my $fh, '<', "$dir/cc.$c" or next;
		while (my $l = <$fh>)
		{
			chomp $l;
			my ($key, $val, $ctx, $written) = split /\t/, $l, -1;
			push @acked, { key => $key, val => $val, ctx => $ctx, written => $written,
				dot => written_dot($ctx, $written) };
		}
	}
	cmp_ok(scalar @acked, '>=', 20, scalar(@acked) . ' writes were acknowledged');
	my ($present, $superseded, $lost) = (0, 0, 0);
	for my $key (@keys)
	{
		my $g = $n1->get('cc', $key, '--r', '3');
		my %live = map { $_ => 1 } @{ values_of($g->{siblings}) };
		my @mine = grep { $_->{key} eq $key } @acked;
		for my $a (@mine)
		{
			if ($live{ $a->{val} }) { $present++; next }
			my $d = $a->{dot};
			my $seen = $d && grep {
				$_ != $a && (context_clock($_->{ctx})->{ $d->[0] } // 0) >= $d->[1]
			} @mine;
			if ($seen) { $superseded++; next }
			$lost++;
			diag("lost: $key = $a->{val} (dot " . ($d ? "$d->[0]:$d->[1]" : '?') . ')');
		}
	}
	diag("concurrency checker: " . scalar(@acked)
		  . " acknowledged, $present present as siblings, $superseded superseded by a write "
		  . "that had seen them, $lost lost");
	is($lost, 0, 'every acknowledged value is present or superseded by a write that saw it');
	cmp_ok($present, '>=', 1, 'and the survivors are there as siblings');
};

done_testing();
