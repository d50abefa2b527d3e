#!/usr/bin/perl
# 040_partition.t
#	Five nodes (N=3, R=W=2), each in its own network namespace, under
#	partial partitions (t/lib/Netns.pm): a ring of cuts (each node reaches
#	only its two neighbours) and a bridge (two halves that reach one node
#	in the middle but not each other).  Measured and printed per cut:
#	how many cut links each side judged down within 5 s, the availability
#	of a client outside the cuts against healthy, its not-found rate on
#	keys that exist, and, after the heal, how long until every node sees
#	every other up and an R=3 read works from every node -- after a 5 s
#	cut, a 60 s cut and repeated short cuts.
#
#	DYNAMO_PARTITION_LONG=S makes the long cut S seconds (default 60).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest;
use DynamoCluster qw(start_cluster wait_until);
use Netns;

my $NODES = 5;
my $net = Netns->new(nodes => $NODES, clients => 1);
my @n = start_cluster($NODES, engine => 'memory', n => 3, prefix => 'p', net => $net,
	secure => 1);
my @addr = map { $_->addr } @n;
my $scratch = DynamoTest::scratch();
my $PRE = 100;

# dynamo-cli as the admin, from wherever the calling process is (a client
# namespace): (exit code, stdout).
sub cli_here
{
	my ($addr, @args) = @_;
	my ($rc, $out) = DynamoTest::cli_at($addr,
		{ key => $n[0]{admin_key}, trust => $n[0]{trust}, timeout => 10 },
		'--timeout', '5000', @args);
	return ($rc, $out);
}

# ------------------------------------------------------------ the workload

# In the client's namespace: $workers processes for $secs seconds, each
# alternating a GET (R=2) of a key written before the cuts with a PUT (W=2)
# of a key of its own, round-robin over the nodes.  Returns the sums:
# { get, put, get_err, put_err, notfound, io }.
sub workload
{
	my ($secs, $workers, $tag) = @_;
	my @pids;
	for my $w (1 .. $workers)
	{
		push @pids, $net->run_in($net->client_ns(1), sub {
				my %c = map { $_ => 0 } qw(get put get_err put_err notfound io);
				my $end = time + $secs;
				my $i = 0;
				while (time < $end)
				{
					my $k = $i++;
					my $node = ($k + $w) % @addr;
					if ($k % 2 == 0)
					{
						my ($rc) = cli_here($addr[$node], 'get', 'pt', 'pre' . int(rand($PRE)),
							'--r', '2');
						if ($rc == 0) { $c{get}++ }
						elsif ($rc == 1) { $c{get}++; $c{notfound}++ }
						elsif ($rc == 3 || $rc == 5) { $c{get_err}++ }
						else { $c{io}++ }
					}
					else
					{
						my ($rc) = cli_here($addr[$node], 'put', 'pt', "$tag-$w-$k", 'v', '--w', '2');
						if ($rc == 0) { $c{put}++ }
						elsif ($rc == 3 || $rc == 5) { $c{put_err}++ }
						else { $c{io}++ }
					}
				}
				open my $fh, '>', "$scratch/wl.$tag.$w" or die;
				print $fh join(' ', map { "$_=$c{$_}" } sort keys %c), "\n";
				close $fh;
			});
	}
	waitpid($_, 0) for @pids;
	my %sum = map { $_ => 0 } qw(get put get_err put_err notfound io);
	for my $w (1 .. $workers)
	{
		my $line = DynamoTest::slurp("$scratch/wl.$tag.$w");
		$sum{$1} += $2 while $line =~ /(\w+)=(\d+)/g;
		unlink "$scratch/wl.$tag.$w";
	}
	$sum{secs} = $secs;
	$sum{rate} = ($sum{get} + $sum{put}) / $secs;
	return \%sum;
}

sub show
{
	my ($what, $r) = @_;
	diag(sprintf('%-28s %6.1f ops/s  (%d gets, %d puts ok; %d/%d failed; %d io; '
			  . '%d not found = %.2f%% of reads)', $what, $r->{rate}, $r->{get}, $r->{put},
			$r->{get_err}, $r->{put_err}, $r->{io}, $r->{notfound},
			$r->{get} ? 100 * $r->{notfound} / $r->{get} : 0));
}

# --------------------------------------------------------------- the cuts

# What every node says of every other: $seen->{i}{j} = 'up'/'down'.
sub views
{
	my %v;
	for my $i (1 .. $NODES)
	{
		my $s = $n[ $i - 1 ]->status;
		for my $m (@{ $s->{members} // [] })
		{
			next unless $m->{id} =~ /^p(\d+)$/;
			$v{$i}{$1} = $m->{status};
		}
	}
	return \%v;
}

# Cut, then the share of cut links (i cannot reach j) judged down by i
# within 5 s, and when the last one was.
sub detect
{
	my (@pairs) = @_;
	my $start = time;
	my %when;
	while (time - $start < 5 && keys %when < @pairs)
	{
		my $v = views();
		for my $p (@pairs)
		{
			my $k = "$p->[0]>$p->[1]";
			$when{$k} //= time - $start if ($v->{ $p->[0] }{ $p->[1] } // '') eq 'down';
		}
		sleep 0.2;
	}
	my $share = 100 * (keys %when) / @pairs;
	my ($last) = sort { $b <=> $a } values %when;
	return ($share, $last // 0);
}

# Heal, then seconds until every node sees every other up and an R=3 GET
# through every node answers (undef past $limit).
sub heal_time
{
	my ($limit) = @_;
	$net->heal;
	my $start = time;
	my $t = wait_until($limit, sub {
			my $v = views();
			for my $i (1 .. $NODES)
			{
				return 0 if grep { ($v->{$i}{$_} // '') ne 'up' } 1 .. $NODES;
			}
			for my $node (@n)
			{
				my ($rc) = $node->cli({ timeout => 5 }, '--timeout', '3000', 'get', 'pt', 'pre1',
					'--r', '3');
				return 0 if $rc != 0;
			}
			return 1;
		});
	return $t;
}

# The links of a ring 1-2-3-4-5-1 that are not between neighbours.
my @ring = grep { my $d = abs($_->[0] - $_->[1]); $d != 1 && $d != $NODES - 1 }
  map { my $i = $_; map { [ $i, $_ ] } grep { $_ != $i } 1 .. $NODES } 1 .. $NODES;
# A bridge: {1,2} and {4,5} cut apart, 3 reaches both.
my @bridge = map { my $i = $_; map { ([ $i, $_ ], [ $_, $i ]) } 4, 5 } 1, 2;

# ------------------------------------------------------------------ run

{
	my $pid = $net->run_in($net->client_ns(1), sub {
			for my $i (0 .. $PRE - 1)
			{
				my ($rc, $out) = cli_here($addr[$i % @addr], 'put', 'pt', "pre$i", "v$i", '--w', '3');
				die "preload pre$i: exit $rc\n" unless $rc == 0;
			}
		});
	waitpid($pid, 0);
	is($?, 0, "$PRE keys written at W=3 from the client's namespace");
}

# The share of requests that succeeded.
sub success
{
	my ($r) = @_;
	my $all = $r->{get} + $r->{put} + $r->{get_err} + $r->{put_err} + $r->{io};
	return $all ? 100 * ($r->{get} + $r->{put}) / $all : 0;
}

my %fig;
for my $cut ([ 'ring', \@ring ], [ 'bridge', \@bridge ])
{
	my ($name, $pairs) = @$cut;
	# healthy right before, so that the machine's load drifts less between the two
	my $healthy = workload(8, 4, "h$name");
	show('healthy', $healthy);
	ok($healthy->{rate} > 0 && $healthy->{notfound} == 0, 'the healthy cluster serves the client');
	$net->cut_links(@$pairs);
	my ($share, $last) = detect(@$pairs);
	diag(sprintf('%-6s cut: %.0f%% of %d cut links judged down within 5 s (last at %.1f s)',
			$name, $share, scalar @$pairs, $last));
	my $during = workload(8, 4, $name);
	show("during the $name cut", $during);
	my $avail = $healthy->{rate} ? 100 * $during->{rate} / $healthy->{rate} : 0;
	my $nf = $during->{get} ? 100 * $during->{notfound} / $during->{get} : 100;
	diag(sprintf('%-6s cut: %.1f%% of requests succeeded, at %.0f%% of the healthy rate; '
			  . 'not found %.2f%%', $name, success($during), $avail, $nf));
	my $ht = heal_time(30);
	diag(sprintf('%-6s cut: after heal, all up and R=3 everywhere in %s s', $name,
			defined $ht ? sprintf('%.1f', $ht) : '>30'));
	$fig{$name} = { share => $share, avail => $avail, nf => $nf, heal => $ht,
		success => success($during) };
}

# A one-way cut: p1's packets to p2 are lost (p2's to p1 arrive).  Each
# side must judge the other down: p1 gets no answer from p2, and p2's
# requests reach p1 but p1's answers do not come back.
{
	$net->cut_oneway(1, 2);
	my ($share, $last) = detect([ 1, 2 ], [ 2, 1 ]);
	diag(sprintf('one-way cut p1->p2: %.0f%% of the 2 directions judged down within 5 s '
			  . '(last at %.1f s)', $share, $last));
	$fig{oneway} = { share => $share, heal => heal_time(30) };
	diag(sprintf('one-way cut: after heal, all up and R=3 everywhere in %s s',
			defined $fig{oneway}{heal} ? sprintf('%.1f', $fig{oneway}{heal}) : '>30'));
}

# A long cut: one node isolated from the others (and healed) -- recovery
# must not wait out the kernel's TCP retransmission backoff.
my $long = $ENV{DYNAMO_PARTITION_LONG} // 60;
for my $secs (5, $long)
{
	$net->cut([1], [ 2 .. $NODES ]);
	my $during = workload($secs, 2, "iso$secs");    # traffic keeps the cut links busy
	show("p1 isolated for $secs s", $during);
	my $ht = heal_time(90);
	diag(sprintf('isolated p1 for %d s: after heal, all up and R=3 everywhere in %s s', $secs,
			defined $ht ? sprintf('%.1f', $ht) : '>90'));
	$fig{"iso$secs"} = $ht;
}

# Repeated short cuts: 5 random halves of 2 s each, then heal.
for (1 .. 5)
{
	my @order = sort { rand() <=> 0.5 } 1 .. $NODES;
	$net->cut([ @order[ 0 .. 1 ] ], [ @order[ 2 .. $NODES - 1 ] ]);
	sleep 2;
	$net->heal;
	sleep 0.5;
}
{
	my $ht = heal_time(90);
	diag(sprintf('after 5 short cuts: all up and R=3 everywhere in %s s',
			defined $ht ? sprintf('%.1f', $ht) : '>90'));
	$fig{short} = $ht;
}

# The goals of issue 11 (items 2-4).
for my $name (qw(ring bridge))
{
	cmp_ok($fig{$name}{share}, '>=', 90, "$name cut: >= 90% of cut links judged down in 5 s");
	# every key has W=2 reachable nodes from every coordinator in these cuts
	cmp_ok($fig{$name}{success}, '>=', 99, "$name cut: >= 99% of requests succeed");
	# a collapse detector, not a benchmark: before issue 11 requests waited
	# out replica timeouts and the rate fell to 2-4% of healthy; the ratio
	# itself (a cli per request, two short windows on a shared machine)
	# moved 68-138% between quiet runs, and is printed above
	cmp_ok($fig{$name}{avail}, '>=', 30, "$name cut: served at >= 30% of the healthy rate (no collapse)");
	ok(defined $fig{$name}{heal} && $fig{$name}{heal} <= 5, "$name cut: healed within 5 s");
	cmp_ok($fig{$name}{nf}, '<=', 0.5, "$name cut: not-found reads <= 0.5%");
}
cmp_ok($fig{oneway}{share}, '==', 100, 'one-way cut: both sides judge the other down');
ok(defined $fig{oneway}{heal} && $fig{oneway}{heal} <= 5, 'one-way cut: healed within 5 s');
for my $k ('iso5', "iso$long", 'short')
{
	ok(defined $fig{$k} && $fig{$k} <= 5, "$k: all up and R=3 from every node within 5 s");
}

done_testing();
